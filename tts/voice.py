"""The shared phone path behind `Synthesizer.speak`: text in, 16 kHz s16 chunks out, one per clause.

normalise (tts.phone_text) -> split into clauses (tts.clauses) -> synthesize each clause at the engine's
rate -> trim, level, limit, pause (tts.clause_audio) -> resample once to 16 kHz -> int16 bytes.
Each chunk is yielded as soon as its clause is ready; the next clause is synthesized only when the
consumer asks for it, so a barge-in that stops iterating also stops synthesis.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from tts.clause_audio import COMMA_PAUSE_MS, SENTENCE_PAUSE_MS, shape_clause
from tts.clauses import Clause, split_clauses
from tts.errors import SynthesisError
from tts.phone_text import normalize_for_phone
from voicebot.frames import SAMPLE_RATE
from voicebot.pcm import resample, to_int16

if TYPE_CHECKING:
    from tts.base import Synthesizer


def phone_clauses(synth: Synthesizer, text: str, *, split: bool = True) -> list[Clause]:
    """The clauses `speak` will synthesize, after phone normalisation for this engine."""
    spoken = normalize_for_phone(text, numbers_as_words=synth.capabilities.needs_number_words)
    if split:
        return split_clauses(spoken)
    return [Clause(spoken, True)] if any(c.isalnum() for c in spoken) else []


def phone_stream(synth: Synthesizer, text: str, *, split: bool = True) -> Iterator[bytes]:
    rate = synth.capabilities.sample_rate
    clauses = phone_clauses(synth, text, split=split)
    for i, clause in enumerate(clauses):
        last = i == len(clauses) - 1
        pause = 0 if last else (SENTENCE_PAUSE_MS if clause.ends_sentence else COMMA_PAUSE_MS)
        audio = _clause_audio(synth, clause.text)
        shaped = shape_clause(audio, rate, pause)
        if len(shaped):
            yield to_int16(resample(shaped, rate, SAMPLE_RATE)).tobytes()


def _clause_audio(synth: Synthesizer, text: str) -> np.ndarray:
    name = synth.capabilities.name
    try:
        audio = synth.synthesize_clause(text)
    except Exception as e:  # engines raise anything from onnxruntime/torch; name the clause instead
        first_line = (str(e).splitlines() or [type(e).__name__])[0]
        raise SynthesisError(f"{name}: could not synthesize {text!r}: {first_line}") from e
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if not np.isfinite(audio).all():
        raise SynthesisError(f"{name}: engine returned NaN/inf samples for {text!r}")
    return audio
