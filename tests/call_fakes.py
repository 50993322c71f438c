"""Fakes and helpers for call-mechanics tests: a caller WAV built from real speech, scripted engines."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asr.base import Recognition, Recognizer, RecognizerCapabilities
from tts.base import Synthesizer, SynthesizerCapabilities
from voicebot.clock import FastClock
from voicebot.config import Settings
from voicebot.engines import Engines
from voicebot.file_transport import FileTransport
from voicebot.pcm import to_int16, write_wav
from voicebot.session import CallSession

RATE = 16000


def build_call(path: Path, parts: list[tuple[float, np.ndarray | None]], length_s: float) -> Path:
    """A caller-side WAV: `parts` are (start second, audio) placed on low line noise."""
    rng = np.random.default_rng(0)
    out = rng.normal(0, 0.0005, int(length_s * RATE)).astype(np.float32)
    for start, audio in parts:
        i = int(start * RATE)
        out[i : i + len(audio)] += audio[: len(out) - i]
    write_wav(path, to_int16(out).tobytes())
    return path


class ScriptedRecognizer(Recognizer):
    capabilities = RecognizerCapabilities("scripted", streaming=False, sample_rates=(RATE,), languages=("en",))

    def __init__(self) -> None:
        self.heard: list[float] = []

    def transcribe(self, pcm: bytes, sample_rate: int = RATE) -> Recognition:
        self.heard.append(len(pcm) / 2 / RATE)
        return Recognition(text=f"utterance {len(self.heard)}")


class ToneVoice(Synthesizer):
    """0.5 s of tone per word: long replies are easy to make, and the bot's audio is easy to find."""

    capabilities = SynthesizerCapabilities("tone", sample_rate=RATE, voices=("tone",))

    def synthesize_clause(self, text: str) -> np.ndarray:
        n = int(0.5 * RATE * len(text.split()))
        return 0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / RATE).astype(np.float32)

    def speak(self, text: str) -> Iterator[bytes]:
        for clause in text.split(","):
            if clause.strip():
                yield to_int16(self.synthesize_clause(clause)).tobytes()


@dataclass
class Turn:
    text: str
    intent: str = "greeting"
    slots: dict = field(default_factory=dict)
    act: str = "x"
    index: int = 0
    generator: str = "template"
    confidence: float | None = None
    end_call: bool = False
    transfer_to: str | None = None
    interruptible: bool = True
    expecting: str | None = None
    sentiment: float | None = None


class FakeConversation:
    def __init__(self, greeting_words: int, reply_words: int) -> None:
        self.greeting_words, self.reply_words = greeting_words, reply_words
        self.said: list[str] = []
        self.silences = 0
        self.closed: str | None = None
        self.interaction_id = 1

    def greet(self) -> Turn:
        return Turn(" ".join(["hello"] * self.greeting_words), interruptible=False)

    def respond(self, text: str) -> Turn:
        self.said.append(text)
        return Turn(" ".join(["answer"] * self.reply_words), intent="order_status", index=len(self.said))

    def keypress(self, digit: str) -> Turn | None:
        return None

    def no_input(self) -> Turn:
        self.silences += 1
        return Turn("are you there", end_call=self.silences >= 2, index=100 + self.silences)

    def record_turn_timings(self, index: int, timings: dict, interrupted: bool = False) -> None:
        pass

    def close(self, outcome: str | None = None, recording_path: str | None = None) -> None:
        self.closed = outcome or "ended"


class FakeDialogue:
    def __init__(self, conv: FakeConversation) -> None:
        self.conv = conv

    def start(self, caller_id: str | None, **kw: object) -> FakeConversation:
        return self.conv


class FakeStore:
    def interaction(self, interaction_id: int) -> None:
        return None


def run_call(wav: Path, conv: FakeConversation, settings: Settings | None = None):
    engines = Engines(ScriptedRecognizer(), ToneVoice(), FakeDialogue(conv), FakeStore())
    transport = FileTransport(wav)
    result = asyncio.run(CallSession(transport, engines, settings or Settings(), FastClock()).run())
    bot = np.frombuffer(transport.bot_audio(), dtype=np.int16)
    return result, bot, engines.recognizer


def speaking_spans(bot: np.ndarray) -> list[tuple[float, float]]:
    """(start s, end s) of each stretch of bot audio on the line, 20 ms resolution."""
    frames = bot[: len(bot) // 320 * 320].reshape(-1, 320)
    on = np.abs(frames).max(axis=1) > 1000
    spans, start = [], None
    for i, v in enumerate(on):
        if v and start is None:
            start = i
        if not v and start is not None:
            spans.append((start * 0.02, i * 0.02))
            start = None
    if start is not None:
        spans.append((start * 0.02, len(on) * 0.02))
    return spans
