"""The `Synthesizer` interface: text in, phone-ready audio out, one clause at a time.

Engines implement `synthesize_clause` at their native rate. The shared `speak` path does what every voice
needs on the phone: normalise the text (order numbers digit by digit, prices, dates), split it into clauses
so the first audio leaves early, trim the engine's leading/trailing silence, match loudness across voices,
and resample once to the bus rate (16 kHz, 16-bit). See tts/voice.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tts.voice import phone_stream


@dataclass(frozen=True)
class SynthesizerCapabilities:
    name: str
    sample_rate: int  # native output rate of synthesize_clause
    voices: tuple[str, ...]
    languages: tuple[str, ...] = ("en",)
    clause_streaming: bool = True
    needs_number_words: bool = False  # engine misreads digits/currency: normalisation spells numbers out


class Synthesizer(ABC):
    capabilities: SynthesizerCapabilities

    @abstractmethod
    def synthesize_clause(self, text: str) -> np.ndarray:
        """Float32 mono audio in [-1, 1] at `capabilities.sample_rate` for one already-normalised clause."""

    def speak(self, text: str, *, split: bool = True) -> Iterator[bytes]:
        """16 kHz 16-bit mono PCM, one chunk per clause, as soon as each is ready.

        `split=False` synthesizes the whole text as one chunk (for comparison; slower first audio).
        Raises TypeError for non-text and tts.SynthesisError if the engine fails on a clause.
        """
        if not isinstance(text, str):
            raise TypeError(f"{self.capabilities.name}: text to speak must be str, got {type(text).__name__}")
        return phone_stream(self, text, split=split)

    def warm_up(self) -> None:
        """Synthesize once at start-up so the first reply does not pay for lazy initialisation."""
        for _ in self.speak("Hello there."):
            pass
