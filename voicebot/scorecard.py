"""Scores a replay against the fixtures' sidecars: WER, intent and slot accuracy, latency percentiles.

Expected turns are matched to recognised caller turns by time: every recognised turn that overlaps an
expected one (±0.5 s) belongs to it, so a caller pause that splits one sentence in two costs nothing but
its words, and a turn the bot never heard counts as all words deleted and the intent missed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from asr.wer import normalize_transcript, word_errors
from voicebot.record import TurnRecord
from voicebot.replay import FixtureRun

STAGES = ("endpoint", "asr", "asr_wait", "dialogue", "tts_first_audio", "voice_to_voice")
SLACK_S = 0.5


@dataclass
class TurnScore:
    fixture: str
    index: int
    expected_text: str
    heard_text: str
    expected_intent: str
    intent: str
    expected_slots: dict[str, Any]
    slots: dict[str, Any]
    ref_words: int
    word_errors: float
    reply: str = ""
    reply_ok: bool | None = None  # the reply contained every `expect_reply` word

    @property
    def intent_ok(self) -> bool:
        return self.intent == self.expected_intent

    @property
    def slots_right(self) -> int:
        return sum(1 for k, v in self.expected_slots.items() if str(self.slots.get(k, "")) == str(v))


@dataclass
class Scorecard:
    turns: list[TurnScore] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    errors: list[str] = field(default_factory=list)
    fixtures: int = 0
    audio_s: float = 0.0
    wall_s: float = 0.0
    fallback_turns: int = 0
    replies: int = 0

    @property
    def wer(self) -> float | None:
        ref = sum(t.ref_words for t in self.turns)
        return sum(t.word_errors for t in self.turns) / ref if ref else None

    @property
    def intent_accuracy(self) -> float | None:
        return sum(t.intent_ok for t in self.turns) / len(self.turns) if self.turns else None

    @property
    def slot_accuracy(self) -> float | None:
        total = sum(len(t.expected_slots) for t in self.turns)
        return sum(t.slots_right for t in self.turns) / total if total else None

    @property
    def reply_accuracy(self) -> float | None:
        checked = [t.reply_ok for t in self.turns if t.reply_ok is not None]
        return sum(checked) / len(checked) if checked else None

    @property
    def speed(self) -> float | None:
        """How many times faster than real time the replay ran."""
        return self.audio_s / self.wall_s if self.wall_s else None

    def percentiles(self, stage: str) -> tuple[float | None, float | None]:
        xs = self.latencies.get(stage) or []
        if not xs:
            return None, None
        return float(np.percentile(xs, 50)), float(np.percentile(xs, 95))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fixtures": self.fixtures,
            "errors": len(self.errors),
            "turns_scored": len(self.turns),
            "wer": self.wer,
            "intent_accuracy": self.intent_accuracy,
            "slot_accuracy": self.slot_accuracy,
            "reply_accuracy": self.reply_accuracy,
            "x_realtime": self.speed,
            "seq2seq_fallback_rate": self.fallback_turns / self.replies if self.replies else None,
        }
        for s in STAGES:
            p50, p95 = self.percentiles(s)
            out[f"{s}_ms_p50"], out[f"{s}_ms_p95"] = p50, p95
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def _overlaps(rec: TurnRecord, start: float, end: float) -> bool:
    return rec.start_s is not None and rec.end_s is not None and (
        rec.start_s < end + SLACK_S and rec.end_s > start - SLACK_S
    )


def score(runs: list[FixtureRun]) -> Scorecard:
    card = Scorecard()
    for run in runs:
        card.fixtures += 1
        if run.error or run.result is None:
            card.errors.append(run.error or f"{run.name}: no result")
            continue
        card.audio_s += run.audio_s
        card.wall_s += run.wall_s
        heard = run.result.caller_turns
        for rec in heard:
            for stage, ms in rec.timings_ms.items():
                if ms is not None and stage in card.latencies:
                    card.latencies[stage].append(ms)
            if rec.reply:
                card.replies += 1
                card.fallback_turns += "fallback" in rec.generator
        for i, exp in enumerate(run.expected.get("turns", []), start=1):
            card.turns.append(_score_turn(run.name, i, exp, heard))
    return card


def _score_turn(fixture: str, index: int, exp: dict[str, Any], heard: list[TurnRecord]) -> TurnScore:
    matched = [r for r in heard if _overlaps(r, float(exp["start_s"]), float(exp["end_s"]))]
    text = " ".join(r.transcript for r in matched)
    ref = exp.get("text", "")
    errors, n_ref = word_errors(ref, text)
    if not n_ref:
        errors = len(normalize_transcript(text))
    main = max(matched, key=lambda r: (r.end_s or 0) - (r.start_s or 0), default=None)
    slots: dict[str, Any] = {}
    for r in matched:
        slots.update(r.slots)
    reply = " ".join(r.reply for r in matched)
    want = [w.lower() for w in exp.get("expect_reply", [])]
    return TurnScore(
        fixture=fixture,
        index=index,
        expected_text=ref,
        heard_text=text,
        expected_intent=exp.get("intent", ""),
        intent=main.intent if main else "",
        expected_slots=dict(exp.get("slots") or {}),
        slots=slots,
        ref_words=n_ref,
        word_errors=errors,
        reply=reply,
        reply_ok=all(w in reply.lower() for w in want) if want else None,
    )
