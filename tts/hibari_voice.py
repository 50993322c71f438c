"""hibari-tts 0.2.1, voice "heart": Kokoro-82M distilled to a 7.9 MB ONNX, 24 kHz, in the package.

Only the bundled voice is offered: hibari's other voices are downloaded on first use, and nothing in
voicebot may download at run time.
"""

from __future__ import annotations

import os

import numpy as np

from tts.base import Synthesizer, SynthesizerCapabilities
from tts.clause_audio import SENTENCE_PAUSE_MS, trim_silence
from tts.errors import VoiceMissing
from tts.model_check import verify_md5

PACKAGE = "hibari-tts==0.2.1"
HIBARI_MD5 = "34fb1dfe51cd444b486a55d4aee53e06"  # hibari/assets/hibari.onnx in hibari-tts 0.2.1
RATE = 24000


def packaged_model_path() -> str:
    try:
        import hibari
    except ImportError:
        raise VoiceMissing(f"voice 'hibari' needs the hibari-tts package: pip install {PACKAGE}") from None
    return os.path.join(os.path.dirname(hibari.__file__), "assets", "hibari.onnx")


class HibariSynthesizer(Synthesizer):
    def __init__(self, *, threads: int = 1, model_path: str | None = None, speed: float = 1.0,
                 seed: int | None = None) -> None:
        packaged = packaged_model_path()
        path = model_path or packaged
        if model_path is None:
            verify_md5(path, HIBARI_MD5, PACKAGE)
        elif not os.path.isfile(path):
            raise VoiceMissing(f"voice 'hibari': model file {path} not found")
        if not 0.5 <= speed <= 2.0:
            raise ValueError(f"voice 'hibari': speed must be between 0.5 and 2.0, got {speed}")
        from hibari import Hibari

        # model= bypasses hibari's voice lookup, which could download; "heart" picks the American G2P.
        self._engine = Hibari(voice="heart", model=path, threads=threads)
        self._speed = speed
        self._seed = seed
        self.capabilities = SynthesizerCapabilities(name="hibari", sample_rate=RATE, voices=("heart",))

    def synthesize_clause(self, text: str) -> np.ndarray:
        parts = list(self._engine.stream(text, self._speed, self._seed))
        if len(parts) <= 1:
            return parts[0] if parts else np.zeros(0, np.float32)
        # hibari pads every sentence with ~0.8 s of silence; inside one chunk, close that to a normal pause.
        pause = np.zeros(RATE * SENTENCE_PAUSE_MS // 1000, np.float32)
        joined: list[np.ndarray] = []
        for speech in (trim_silence(part, RATE) for part in parts):
            if len(speech):
                joined += [speech, pause]
        return np.concatenate(joined[:-1]) if joined else np.zeros(0, np.float32)
