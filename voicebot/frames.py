"""The typed frames that travel on a call's bus.

Audio inside the bus is always 16-bit mono PCM at 16 kHz in 20 ms frames (320 samples, 640 bytes);
transports convert once at the edge. Control frames (barge-in, the caller hanging up) take the priority lane:
a processor handles them before any data frame already queued.

Times (`t`, `start_s`, `end_s`) are media seconds on the call's clock, counted from the start of the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

SAMPLE_RATE = 16000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 320
FRAME_BYTES = FRAME_SAMPLES * 2  # 640


@dataclass(frozen=True, slots=True)
class Frame:
    control: ClassVar[bool] = False


# --- data frames -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallerAudio(Frame):
    """20 ms of what the caller said (or silence), as it arrived."""

    pcm: bytes
    t: float


@dataclass(frozen=True, slots=True)
class CallerSpeechStarted(Frame):
    """Speech onset. `preroll` is the audio just before it, so a streaming recognizer hears the first word."""

    turn: int
    t: float
    preroll: bytes = b""


@dataclass(frozen=True, slots=True)
class CallerPause(Frame):
    """The caller has paused long enough that the turn is probably over: a recognizer may start on `pcm`
    now and have the text ready when the end-of-turn silence is confirmed (speculative endpointing)."""

    turn: int
    pcm: bytes
    end_s: float


@dataclass(frozen=True, slots=True)
class CallerTurn(Frame):
    """One VAD-cut turn: the caller's speech from its onset to the end-of-turn silence.

    `end_s` is the end of the last voiced frame; `decided_s` is when the silence timer fired, so
    `decided_s - end_s` is the endpointing delay the caller waited through.
    """

    turn: int
    pcm: bytes
    start_s: float
    end_s: float
    decided_s: float


@dataclass(frozen=True, slots=True)
class Transcript(Frame):
    turn: int
    text: str
    start_s: float
    end_s: float
    decided_s: float
    asr_ms: float  # recognizer compute time
    asr_wait_ms: float = 0.0  # of which the caller waited after the endpoint (less when started early)
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class KeyPress(Frame):
    """A DTMF digit (RFC 2833 or SIP INFO)."""

    digit: str
    t: float


@dataclass(frozen=True, slots=True)
class BotReply(Frame):
    """What the bot decided to say for one caller turn (or on its own: greeting, re-prompt)."""

    turn: int
    text: str
    intent: str = ""
    slots: dict[str, Any] = field(default_factory=dict)
    generator: str = "template"
    confidence: float | None = None
    dialogue_ms: float = 0.0
    interruptible: bool = True
    end_call: bool = False
    transfer_to: str | None = None
    sentiment: float | None = None
    expecting: str | None = None  # what the bot asked for ("order_number"): the caller may pause mid-number
    heard: str = ""  # what the reply answers when it was not speech (e.g. "DTMF 4567#")
    crm_turn: int | None = None  # the turn's index on the CRM interaction


@dataclass(frozen=True, slots=True)
class BotAudio(Frame):
    """A chunk of synthesized reply audio (16 kHz s16), any length; the playout cuts it into 20 ms."""

    turn: int
    pcm: bytes
    first: bool = False


@dataclass(frozen=True, slots=True)
class CallerSilent(Frame):
    """No caller speech for the configured no-input time while the bot was quiet."""

    t: float


@dataclass(frozen=True, slots=True)
class InputEnded(Frame):
    """The caller's audio source ended (file done, RTP gone). Data frame: it follows the audio before it."""

    t: float
    reason: str = "end of input"


# --- control frames (priority lane) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BargeIn(Frame):
    """The caller started speaking over the bot: drop what is queued for playout now."""

    control: ClassVar[bool] = True
    t: float
    turn: int


@dataclass(frozen=True, slots=True)
class HangUp(Frame):
    control: ClassVar[bool] = True
    t: float
    by: str  # "caller" | "bot" | "timeout"
    reason: str = ""
