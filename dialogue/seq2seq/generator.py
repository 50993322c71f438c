"""`Seq2SeqGenerator`: the trained model behind the `ReplyGenerator` interface. It returns the model's raw
reply; the `DialogueManager` runs it through the `SafetyGate` (gate.py) like any other generator's.

`load_generator(path)` is the one loader for the engine: the model when the checkpoint is there and
current, otherwise a `TemplateGenerator` named `fallback:missing` / `fallback:stale` / `fallback:unreadable`
(each turn says why) after one warning line. It never trains and never crashes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from dialogue.acts import Declined, DialogueAct, GeneratedReply, ReplyContext, ReplyGenerator
from dialogue.seq2seq.features import EOS, ModelInput, Vocab, detokenize, mood_of, source_tokens
from dialogue.templates import TemplateGenerator

if TYPE_CHECKING:  # torch is imported only when a checkpoint loads
    from dialogue.seq2seq.model import Seq2Seq

log = logging.getLogger(__name__)

GENERATORS = ("seq2seq", "template")


class Seq2SeqGenerator:
    name = "seq2seq"

    def __init__(self, model: Seq2Seq, src: Vocab, tgt: Vocab, *, beam: int = 1, fingerprint: str = "") -> None:
        self.model = model
        self.src = src
        self.tgt = tgt
        self.beam = beam
        self.fingerprint = fingerprint
        self._known_acts = {t[4:] for t in src.itos if t.startswith("act:")}

    def model_input(self, act: DialogueAct, context: ReplyContext) -> ModelInput:
        return ModelInput(
            act=act.name, intent=act.intent or context.intent, value_keys=tuple(sorted(act.values)),
            turn_acts=context.acts or (act.name,), caller=context.caller_text,
            previous_acts=context.previous_acts, previous_text=context.previous_text,
            mood=mood_of(context.sentiment), category=context.slots.get("complaint_category"),
        )

    def decode(self, x: ModelInput) -> tuple[str, float, bool]:
        """(delexicalised text, confidence, finished) straight from the model, not yet gated."""
        ids = self.src.encode(source_tokens(x))
        out = self.model.beam(ids, self.beam) if self.beam > 1 else self.model.greedy(ids)
        tokens = [t for t in self.tgt.decode(out.tokens) if t != EOS]
        return detokenize(tokens), out.confidence, out.finished

    def generate(self, act: DialogueAct, context: ReplyContext) -> GeneratedReply:
        """The model's delexicalised reply, not yet gated (the manager gates every generator's replies)."""
        if act.name not in self._known_acts:  # an act added after training: the template knows it
            raise Declined("unknown_act", f"act {act.name!r} was not in the training corpus")
        text, confidence, finished = self.decode(self.model_input(act, context))
        return GeneratedReply(text, self.name, round(confidence, 4), finished)


def load_generator(path: str | Path | None = None, *, beam: int = 1) -> ReplyGenerator:
    """The shipped (or given) checkpoint as a generator; templates named `fallback:<why>` if it is
    missing, stale or unreadable (one warning line, no exception)."""
    from dialogue.seq2seq.checkpoint import CheckpointError, load

    try:
        loaded = load(path)
    except CheckpointError as exc:
        log.warning("Seq2Seq replies off, using templates (fallback:%s): %s", exc.reason, exc)
        return TemplateGenerator(name=f"fallback:{exc.reason}")
    return Seq2SeqGenerator(loaded.model, loaded.src, loaded.tgt, beam=beam, fingerprint=loaded.fingerprint)


def make_generator(name: str, path: str | Path | None = None, *, beam: int = 1) -> ReplyGenerator:
    """The configured reply generator: "seq2seq" (the trained model) or "template"."""
    if name in ("", "template"):
        return TemplateGenerator()
    if name == "seq2seq":
        return load_generator(path, beam=beam)
    raise ValueError(f"unknown reply generator {name!r}; choose: {', '.join(GENERATORS)}")
