"""What a call does when things go sideways: a voice that fails, a caller cutting in on the goodbye, keys
typed instead of words, a streaming recognizer, several replies dropped at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from call_fakes import RATE, FakeConversation, FakeDialogue, FakeStore, ToneVoice, Turn, build_call, run_call

from asr.base import Recognition, Recognizer, RecognizerCapabilities, RecognizerStream
from voicebot.clock import FastClock
from voicebot.config import Settings
from voicebot.engines import Engines
from voicebot.file_transport import FileTransport
from voicebot.frames import KeyPress
from voicebot.playout import Playout
from voicebot.session import CallSession
from voicebot.transport import CallIO


class BrokenGreetingVoice(ToneVoice):
    """The first reply (the greeting) fails on its second clause; later replies work."""

    def __init__(self) -> None:
        self.replies = 0

    def speak(self, text: str) -> Iterator[bytes]:
        self.replies += 1
        broken = self.replies == 1
        for i, chunk in enumerate(super().speak(text)):
            if broken and i == 1:
                raise RuntimeError("voice engine crashed")
            yield chunk


def test_a_voice_failure_does_not_leave_the_bot_deaf(tmp_path: Path, speech: np.ndarray) -> None:
    conv = FakeConversation(greeting_words=2, reply_words=2)
    conv.greet = lambda: Turn("hello there, welcome", interruptible=False)  # type: ignore[method-assign]
    wav = build_call(tmp_path / "call.wav", [(4.0, speech)], 14.0)
    engines = Engines(_Scripted(), BrokenGreetingVoice(), FakeDialogue(conv), FakeStore())
    result = asyncio.run(CallSession(FileTransport(wav), engines, Settings(), FastClock()).run())
    assert conv.said == ["utterance 1"]  # the caller was still heard after the greeting broke
    assert result.ended_by == "input ended" and result.duration_s < 30


def test_cutting_in_on_the_goodbye_keeps_the_call(tmp_path: Path, speech: np.ndarray) -> None:
    conv = FakeConversation(greeting_words=1, reply_words=12)
    answer = conv.respond

    def respond(text: str) -> Turn:
        turn = answer(text)
        turn.end_call = len(conv.said) == 1  # the first answer is a long goodbye
        return turn

    conv.respond = respond  # type: ignore[method-assign]
    first_end = 2.0 + len(speech) / RATE
    wav = build_call(tmp_path / "bye.wav", [(2.0, speech), (first_end + 2.0, speech)], 30.0)
    result, _, _ = run_call(wav, conv)
    assert conv.said == ["utterance 1", "utterance 2"]  # "wait, one more thing" was heard
    assert result.caller_turns[0].interrupted and result.ended_by == "input ended"


class KeypadCall(FileTransport):
    """A file call whose caller also presses keys at given seconds (as RFC 2833 would deliver them)."""

    def __init__(self, path: Path, keys: list[tuple[float, str]]) -> None:
        super().__init__(path)
        self.keys = keys

    async def run(self, io: CallIO) -> None:
        async def press() -> None:
            for at, key in self.keys:
                await io.clock.sleep_until(at)
                await io.send(KeyPress(key, at))

        presser = asyncio.ensure_future(press())
        try:
            await super().run(io)
        finally:
            presser.cancel()


def test_keys_typed_reach_the_dialogue_and_get_an_answer(tmp_path: Path) -> None:
    conv = FakeConversation(greeting_words=1, reply_words=2)
    typed: list[str] = []

    def keypress(digit: str) -> Turn | None:
        typed.append(digit)
        return Turn("order found", intent="order_status", index=7) if digit == "#" else None

    conv.keypress = keypress  # type: ignore[method-assign]
    wav = build_call(tmp_path / "keys.wav", [], 12.0)
    keys = [(3.0, "4"), (3.3, "5"), (3.6, "6"), (3.9, "7"), (4.2, "#")]
    engines = Engines(_Scripted(), ToneVoice(), FakeDialogue(conv), FakeStore())
    result = asyncio.run(CallSession(KeypadCall(wav, keys), engines, Settings(), FastClock()).run())
    assert typed == ["4", "5", "6", "7", "#"]
    (answer,) = [t for t in result.turns if t.reply == "order found"]
    assert answer.transcript == "DTMF 4567#" and answer.reply_started_s is not None


class _Scripted(Recognizer):
    capabilities = RecognizerCapabilities("scripted", streaming=False, sample_rates=(RATE,), languages=("en",))

    def __init__(self) -> None:
        self.n = 0

    def transcribe(self, pcm: bytes, sample_rate: int = RATE) -> Recognition:
        self.n += 1
        return Recognition(f"utterance {self.n}")


class _Stream(RecognizerStream):
    def __init__(self) -> None:
        self.audio = b""

    def accept(self, pcm: bytes) -> str | None:
        self.audio += pcm
        return None

    def finish(self) -> Recognition:
        seconds, self.audio = len(self.audio) / 2 / RATE, b""
        return Recognition(f"{seconds:.2f}")


class StreamingRecognizer(Recognizer):
    capabilities = RecognizerCapabilities("streaming", streaming=True, sample_rates=(RATE,), languages=("en",))

    def transcribe(self, pcm: bytes, sample_rate: int = RATE) -> Recognition:
        raise AssertionError("a streaming recognizer is fed frames, not whole turns")

    def stream(self, sample_rate: int = RATE) -> RecognizerStream:
        return _Stream()


def test_a_streaming_recognizer_hears_the_whole_turn(tmp_path: Path, speech: np.ndarray) -> None:
    conv = FakeConversation(greeting_words=1, reply_words=1)
    wav = build_call(tmp_path / "stream.wav", [(2.0, speech)], 10.0)
    engines = Engines(StreamingRecognizer(), ToneVoice(), FakeDialogue(conv), FakeStore())
    asyncio.run(CallSession(FileTransport(wav), engines, Settings(), FastClock()).run())
    (heard,) = conv.said
    # pre-roll + speech + the end-of-turn silence it was fed while the endpoint was confirmed
    assert abs(float(heard) - len(speech) / RATE) < 0.8


def test_barge_in_drops_every_queued_reply_and_says_so() -> None:
    playout = Playout(lambda: 0.0)
    events: list[tuple[str, int]] = []
    playout.listeners.append(lambda ev: events.append((ev.kind, ev.turn)))
    for turn in (3, 4):
        playout.begin(turn)
        playout.enqueue(turn, b"\x01\x00" * 3200, last=True)
    playout.pull()
    assert playout.flush() == [3, 4]
    assert events == [("started", 3), ("interrupted", 3), ("interrupted", 4)]
    assert not playout.speaking and playout.pull() is None
