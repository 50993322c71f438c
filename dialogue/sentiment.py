"""Caller sentiment: a trained classifier (not a word list) scoring each caller turn in [-1, 1].

TF-IDF over word 1–2-grams and character 2–5-grams (robust to ASR slips) feeding a multinomial logistic
regression over three labels: `neg` (upset, angry, worried), `neu` (calm, incl. calmly reporting a problem),
`pos` (pleased, grateful). score = P(pos) − P(neg). Trained from `corpus/sentiment/train.txt` at start-up,
once per process (deterministic, ~0.1 s); `corpus/sentiment/heldout.txt` is never trained on.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from dialogue.nlu import normalise, phone_text_features, read_labelled, said_nothing

CORPUS_DIR = Path(__file__).parent / "corpus" / "sentiment"
LABELS = ("neg", "neu", "pos")
# A caller turn scoring below this is "angry"; two in a row are offered a person (Conversation.respond).
ANGRY_BELOW = -0.5


def read_sentiment(path: Path) -> list[tuple[str, str]]:
    """(utterance, label) pairs from a `neg|neu|pos<TAB>utterance` file."""
    return read_labelled(path, LABELS)


class SentimentClassifier:
    """Immutable once trained; safe to share between calls and threads."""

    def __init__(self, features: FeatureUnion, model: LogisticRegression, train_seconds: float) -> None:
        self._features = features
        self._model = model
        self.labels: tuple[str, ...] = tuple(model.classes_)
        self.train_seconds = train_seconds

    @classmethod
    def train(cls, examples: Iterable[tuple[str, str]]) -> SentimentClassifier:
        start = time.perf_counter()
        texts, labels = zip(*((_view(t), label) for t, label in examples), strict=True)
        features = phone_text_features()
        x = features.fit_transform(texts)
        model = LogisticRegression(C=8.0, max_iter=2000)  # lbfgs: deterministic
        model.fit(x, np.array(labels))
        return cls(features, model, time.perf_counter() - start)

    def probabilities(self, text: str) -> dict[str, float]:
        probs = self._model.predict_proba(self._features.transform([_view(text)]))[0]
        return {label: float(p) for label, p in zip(self.labels, probs, strict=True)}

    def score(self, text: str) -> float | None:
        """−1 (angry) … +1 (pleased); None when nothing was said (empty, fillers, an ASR tag, not a string):
        silence has no mood, and must not break a run of angry turns."""
        if not isinstance(text, str) or said_nothing(text):
            return None
        p = self.probabilities(text)
        return round(p.get("pos", 0.0) - p.get("neg", 0.0), 4)


def _view(text: str) -> str:
    # Same view as the intent classifier (numbers → "num", fillers dropped); "!" and "?!" carry emotion
    # in written text but an ASR transcript rarely has them, so they are not relied on.
    return normalise(text)


@functools.cache
def default_sentiment() -> SentimentClassifier:
    """The classifier trained on the repo corpus, once per process."""
    return SentimentClassifier.train(read_sentiment(CORPUS_DIR / "train.txt"))


def heldout_accuracy(classifier: SentimentClassifier | None = None) -> tuple[float, list[str]]:
    """Accuracy on the held-out set, and its misses as "want -> got: text" lines."""
    classifier = classifier or default_sentiment()
    examples = read_sentiment(CORPUS_DIR / "heldout.txt")
    misses = []
    for text, want in examples:
        p = classifier.probabilities(text)
        got = max(p, key=lambda k: p[k])
        if got != want:
            misses.append(f"{want} -> {got} ({p['pos'] - p['neg']:+.2f}): {text}")
    return 1 - len(misses) / len(examples), misses
