"""`Seq2SeqGenerator`: the trained model behind the `ReplyGenerator` interface, every reply gated.

`load_generator(path)` is the one loader for the engine: the model when the checkpoint is there and
current, otherwise a template generator that marks each turn `fallback:missing` / `fallback:stale` /
`fallback:unreadable` after one warning line. It never trains and never crashes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from dialogue.acts import DialogueAct, GeneratedReply, ReplyContext, ReplyGenerator
from dialogue.seq2seq.features import EOS, ModelInput, Vocab, detokenize, mood_of, source_tokens
from dialogue.seq2seq.gate import DEFAULT_MIN_CONFIDENCE, SafetyGate
from dialogue.templates import TemplateGenerator

if TYPE_CHECKING:  # torch is imported only when a checkpoint loads
    from dialogue.seq2seq.model import Seq2Seq

log = logging.getLogger(__name__)

GENERATORS = ("seq2seq", "template")


class Seq2SeqGenerator:
    name = "seq2seq"

    def __init__(self, model: Seq2Seq, src: Vocab, tgt: Vocab, *, beam: int = 1,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE, templates: TemplateGenerator | None = None,
                 fingerprint: str = "") -> None:
        self.model = model
        self.src = src
        self.tgt = tgt
        self.beam = beam
        self.gate = SafetyGate(min_confidence)
        self.templates = templates or TemplateGenerator()
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
        if act.name not in self._known_acts:  # an act added after training: the template knows it
            return self._fallback(act, context, "unknown_act", None)
        x = self.model_input(act, context)
        text, confidence, finished = self.decode(x)
        reason = self.gate.check(act, text, confidence, finished, x.category)
        if reason:
            return self._fallback(act, context, reason, confidence)
        return GeneratedReply(text, self.name, round(confidence, 4))

    def _fallback(self, act: DialogueAct, context: ReplyContext, reason: str,
                  confidence: float | None) -> GeneratedReply:
        template = self.templates.generate(act, context)
        return GeneratedReply(template.text, f"fallback:{reason}",
                              None if confidence is None else round(confidence, 4))


class MarkedTemplateGenerator:
    """Templates standing in for a model that could not load: each reply says why (`fallback:stale`)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.name = f"fallback:{reason}"
        self._templates = TemplateGenerator()

    def generate(self, act: DialogueAct, context: ReplyContext) -> GeneratedReply:
        return GeneratedReply(self._templates.generate(act, context).text, self.name, None)


def load_generator(path: str | Path | None = None, *, beam: int = 1,
                   min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> ReplyGenerator:
    """The shipped (or given) checkpoint as a gated generator; templates marked `fallback:<why>` if it
    is missing, stale or unreadable (one warning line, no exception)."""
    from dialogue.seq2seq.checkpoint import CheckpointError, load

    try:
        loaded = load(path)
    except CheckpointError as exc:
        log.warning("Seq2Seq replies off, using templates (fallback:%s): %s", exc.reason, exc)
        return MarkedTemplateGenerator(exc.reason)
    return Seq2SeqGenerator(loaded.model, loaded.src, loaded.tgt, beam=beam, min_confidence=min_confidence,
                            fingerprint=loaded.fingerprint)


def make_generator(name: str, path: str | Path | None = None, *, beam: int = 1) -> ReplyGenerator:
    """The configured reply generator: "seq2seq" (the trained model, gated) or "template"."""
    if name in ("", "template"):
        return TemplateGenerator()
    if name == "seq2seq":
        return load_generator(path, beam=beam)
    raise ValueError(f"unknown reply generator {name!r}; choose: {', '.join(GENERATORS)}")
