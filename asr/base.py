"""The `Recognizer` interface: what the pipeline needs from a speech recognizer.

A *segmented* recognizer (Whisper) is handed one VAD-cut caller turn at a time; a *streaming* recognizer
(vosk) is fed every 20 ms frame through a `RecognizerStream` and asked for the final text at end of turn.
Audio is always 16-bit mono PCM; a recognizer states which rates it accepts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


class ModelMissing(RuntimeError):
    """A model file is absent or fails its checksum; the message names the package to install."""


@dataclass(frozen=True)
class RecognizerCapabilities:
    name: str
    streaming: bool
    sample_rates: tuple[int, ...]
    languages: tuple[str, ...]
    device: str = "cpu"


@dataclass(frozen=True)
class Recognition:
    text: str
    confidence: float | None = None  # 0..1 where the engine gives one
    language: str | None = None


class RecognizerStream(ABC):
    @abstractmethod
    def accept(self, pcm: bytes) -> str | None:
        """Feed 16-bit PCM; return a partial transcript when the engine has one."""

    @abstractmethod
    def finish(self) -> Recognition:
        """End of turn: the final transcript. The stream is reset for the next turn."""


class Recognizer(ABC):
    capabilities: RecognizerCapabilities

    @abstractmethod
    def transcribe(self, pcm: bytes, sample_rate: int = 16000) -> Recognition:
        """Transcribe one whole turn of 16-bit mono PCM."""

    def stream(self, sample_rate: int = 16000) -> RecognizerStream:
        raise NotImplementedError(f"{self.capabilities.name} is not a streaming recognizer")

    def warm_up(self) -> None:  # noqa: B027 - optional hook: engines without lazy state need nothing
        """Run once at start-up so the first caller turn does not pay for lazy initialisation."""
