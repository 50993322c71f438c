"""Intent classification + slots for one caller utterance (an ASR transcript).

TF-IDF over word 1–2-grams and character 2–5-grams (robust to ASR spelling slips) feeding a LinearSVC;
`confidence` is a softmax over its decision scores with a temperature fitted on out-of-fold scores
(calibrated). Trained from `dialogue/corpus/intents/*.txt` at start-up: deterministic, ~0.1–0.35 s.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from dialogue.numbers import FILLERS, number_runs, tokens
from dialogue.slots import ProductMatcher, extract

CORPUS_DIR = Path(__file__).parent / "corpus"
INTENTS = (
    "order_status",
    "product_info",
    "purchase_intent",
    "complaint",
    "return_request",
    "agent_request",
    "update_contact",
    "greeting",
    "goodbye",
    "thanks",
    "affirm",
    "deny",
    "out_of_scope",
    "repeat",
)
# Below this the top intent is a guess: the policy asks the caller to rephrase.
CONFIDENCE_THRESHOLD = 0.45
_YES_NOISE_RE = re.compile(r"\b(mm+[- ]?hmm+|uh[- ]huh)\b")
_ASR_TAG_RE = re.compile(r"\[[^\]]*\]|\([^)]*\)")  # "[BLANK_AUDIO]", "(coughs)": the ASR's, not the caller's


@dataclass(frozen=True)
class NluResult:
    intent: str  # "out_of_scope" when uncertain
    confidence: float  # probability of the classifier's top intent
    slots: dict[str, str] = field(default_factory=dict)
    uncertain: bool = False  # confidence below the threshold: `intent` was replaced by out_of_scope
    guess: str = ""  # the classifier's top intent, even when uncertain
    ranked: tuple[tuple[str, float], ...] = ()  # top intents with probabilities, best first


def normalise(text: str) -> str:
    """Classifier view of a transcript: lowercase words, fillers dropped, spoken/written numbers → "num"."""
    text = _YES_NOISE_RE.sub("mhm", text.lower())  # "mm hmm" / "uh huh" are a yes, not fillers
    toks: list[str | None] = list(tokens(text))
    for run in number_runs(text):
        span = toks[run.start : run.end]
        if len(run.digits) >= 2 or any(t is not None and t.isdigit() for t in span):
            toks[run.start : run.end] = ["num"] + [None] * (run.end - run.start - 1)
    return " ".join(t for t in toks if t and t not in FILLERS and t not in {"#", "$", "%"})


def said_nothing(text: str) -> bool:
    """True when a transcript holds no word a person said: empty, punctuation, fillers ("um") or ASR tags
    ("[BLANK_AUDIO]"). "mm hmm" is a yes, not nothing. The one test used by the NLU, the policy, the
    sentiment score and the conversation."""
    return not normalise(_ASR_TAG_RE.sub(" ", text))


def read_corpus(folder: Path = CORPUS_DIR / "intents") -> list[tuple[str, str]]:
    """(utterance, intent) pairs from one `<intent>.txt` file per intent; `#` lines are comments."""
    examples = []
    for path in sorted(folder.glob("*.txt")):
        intent = path.stem
        if intent not in INTENTS:
            raise ValueError(
                f"corpus file {path.name}: unknown intent {intent!r} (known: {', '.join(INTENTS)})"
            )
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                examples.append((line, intent))
    return examples


def read_labelled(path: Path, labels: Collection[str]) -> list[tuple[str, str]]:
    """(utterance, label) pairs from a `label<TAB>utterance` file; `#` lines are comments."""
    examples = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        label, sep, text = line.partition("\t")
        if not sep or label not in labels or not text.strip():
            raise ValueError(f"{path.name} line {n}: expected '<label>\\t<utterance>' with a label in "
                             f"{', '.join(labels)}")
        examples.append((text.strip(), label))
    return examples


def read_heldout(path: Path = CORPUS_DIR / "heldout.txt") -> list[tuple[str, str]]:
    """(utterance, intent) pairs of the held-out test list (never trained on)."""
    return read_labelled(path, INTENTS)


def phone_text_features() -> FeatureUnion:
    """TF-IDF over words (1-2-grams) and characters (2-5-grams): char n-grams survive ASR misspellings."""
    return FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"[a-z0-9']+")),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
    ])


class IntentClassifier:
    """Immutable once trained; safe to share between calls and threads."""

    def __init__(self, features: FeatureUnion, svm: LinearSVC, temperature: float,
                 train_seconds: float) -> None:
        self._features = features
        self._svm = svm
        self.temperature = temperature
        self.labels: tuple[str, ...] = tuple(svm.classes_)
        self.train_seconds = train_seconds

    @classmethod
    def train(cls, examples: Iterable[tuple[str, str]]) -> IntentClassifier:
        """Fit features + SVM, and the softmax temperature that minimises the log-loss of 5-fold
        out-of-fold decision scores (so confidences are calibrated on utterances the SVM did not see)."""
        start = time.perf_counter()
        texts, labels = zip(*((normalise(t), i) for t, i in examples), strict=True)
        features = phone_text_features()
        x = features.fit_transform(texts)
        y = np.array(labels)
        svm = LinearSVC(C=1.0, random_state=0)
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
        scores = cross_val_predict(svm, x, y, cv=folds, method="decision_function")
        truth = np.searchsorted(np.unique(y), y)

        def log_loss(t: float) -> float:
            return float(-log_softmax(scores * t, axis=1)[np.arange(len(y)), truth].mean())

        temperature = float(minimize_scalar(log_loss, bounds=(0.1, 50.0), method="bounded").x)
        svm.fit(x, y)
        return cls(features, svm, temperature, time.perf_counter() - start)

    def rank(self, text: str, top: int = 3) -> list[tuple[str, float]]:
        scores = self._svm.decision_function(self._features.transform([normalise(text)]))[0]
        probs = softmax(scores * self.temperature)
        order = probs.argsort()[::-1][:top]
        return [(self.labels[i], float(probs[i])) for i in order]


@functools.cache
def default_classifier() -> IntentClassifier:
    """The classifier trained on the repo corpus, once per process."""
    return IntentClassifier.train(read_corpus())


class Nlu:
    """`parse(text) -> NluResult`. Product names come from the live catalog (`set_products`)."""

    def __init__(
        self,
        products: Iterable[str] = (),
        *,
        classifier: IntentClassifier | None = None,
        threshold: float = CONFIDENCE_THRESHOLD,
    ) -> None:
        self.classifier = classifier or default_classifier()
        self.threshold = threshold
        self._products = ProductMatcher(products)

    @property
    def products(self) -> tuple[str, ...]:
        return self._products.names

    def set_products(self, names: Iterable[str]) -> None:
        names = tuple(names)
        if names != self._products.names:
            self._products = ProductMatcher(names)  # swapped whole: readers never see a half-built matcher

    def parse(self, text: str) -> NluResult:
        if not isinstance(text, str):
            raise TypeError(f"Nlu.parse: expected a transcript str, got {type(text).__name__}")
        slots = extract(text, self._products)
        if said_nothing(text):
            return NluResult("out_of_scope", 0.0, slots, uncertain=True)
        ranked = tuple(self.classifier.rank(text))
        guess, confidence = ranked[0]
        uncertain = confidence < self.threshold
        return NluResult("out_of_scope" if uncertain else guess, confidence, slots, uncertain, guess, ranked)
