"""The record of one call, turn by turn, built by watching the bus: what was said, what the bot answered,
and how long each stage took. QA replay, the CLI and the CRM all read it."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from voicebot.frames import BotAudio, BotReply, CallerTurn, Frame, Transcript
from voicebot.playout import PlayoutEvent


@dataclass
class TurnRecord:
    turn: int
    start_s: float | None = None
    end_s: float | None = None
    decided_s: float | None = None
    transcript: str = ""
    intent: str = ""
    slots: dict[str, Any] = field(default_factory=dict)
    reply: str = ""
    generator: str = ""
    confidence: float | None = None
    sentiment: float | None = None
    interrupted: bool = False
    crm_turn: int | None = None
    asr_ms: float | None = None
    asr_wait_ms: float | None = None
    dialogue_ms: float | None = None
    tts_first_audio_ms: float | None = None
    reply_started_s: float | None = None  # first bot audio frame on the line
    _reply_wall: float | None = None

    @property
    def caller_turn(self) -> bool:
        return self.start_s is not None or self.transcript.startswith("DTMF")

    @property
    def timings_ms(self) -> dict[str, float | None]:
        endpoint = None
        if self.decided_s is not None and self.end_s is not None:
            endpoint = (self.decided_s - self.end_s) * 1000
        v2v = None
        if self.reply_started_s is not None and self.end_s is not None:
            v2v = (self.reply_started_s - self.end_s) * 1000
        out = {
            "endpoint": endpoint,
            "asr": self.asr_ms,
            "asr_wait": self.asr_wait_ms,
            "dialogue": self.dialogue_ms,
            "tts_first_audio": self.tts_first_audio_ms,
            "voice_to_voice": v2v,
        }
        return {k: (round(v, 1) if v is not None else None) for k, v in out.items()}

    def as_json(self, fixture: str | None = None) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if not k.startswith("_") and not k.endswith("_ms")}
        d.pop("decided_s", None)
        d.pop("reply_started_s", None)
        d.pop("crm_turn", None)
        out: dict[str, Any] = {"fixture": fixture} if fixture is not None else {}
        out.update(d)
        out["timings_ms"] = self.timings_ms
        return out


class CallRecord:
    def __init__(self) -> None:
        self.turns: dict[int, TurnRecord] = {}

    def _rec(self, turn: int) -> TurnRecord:
        if turn not in self.turns:
            self.turns[turn] = TurnRecord(turn)
        return self.turns[turn]

    def observe(self, frame: Frame) -> None:
        if isinstance(frame, CallerTurn):
            r = self._rec(frame.turn)
            r.start_s, r.end_s, r.decided_s = frame.start_s, frame.end_s, frame.decided_s
        elif isinstance(frame, Transcript):
            r = self._rec(frame.turn)
            r.transcript, r.asr_ms, r.asr_wait_ms = frame.text, frame.asr_ms, frame.asr_wait_ms
        elif isinstance(frame, BotReply):
            r = self._rec(frame.turn)
            if frame.heard:
                r.transcript = frame.heard
            r.reply, r.intent, r.slots = frame.text, frame.intent, dict(frame.slots)
            r.generator, r.confidence, r.sentiment = frame.generator, frame.confidence, frame.sentiment
            r.dialogue_ms, r.crm_turn = frame.dialogue_ms, frame.crm_turn
            r._reply_wall = time.perf_counter()
        elif isinstance(frame, BotAudio) and frame.first:
            r = self._rec(frame.turn)
            if r._reply_wall is not None:
                r.tts_first_audio_ms = (time.perf_counter() - r._reply_wall) * 1000

    def on_playout(self, ev: PlayoutEvent) -> None:
        r = self._rec(ev.turn)
        if ev.kind == "started":
            r.reply_started_s = ev.t
        elif ev.kind == "interrupted":
            r.interrupted = True

    def ordered(self) -> list[TurnRecord]:
        return [self.turns[k] for k in sorted(self.turns)]
