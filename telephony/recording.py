"""Call recording: one stereo WAV per call, caller on the left, bot on the right, 16 kHz.

Written from the event loop with the frame pairs the media port saw in the same bridge tick, so the two
legs stay aligned for the whole call (two separate mono recorders drift apart when one leg pauses).
"""

from __future__ import annotations

import re
import time
import wave
from pathlib import Path

import numpy as np

from voicebot.frames import SAMPLE_RATE

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class StereoRecorder:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._wav = wave.open(str(path), "wb")
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(SAMPLE_RATE)

    @classmethod
    def open(cls, record_dir: str | Path, call_id: str) -> StereoRecorder:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = _UNSAFE.sub("_", call_id)[:60] or "call"
        return cls(Path(record_dir) / f"{stamp}-{name}.wav")

    def write(self, caller: bytes, bot: bytes) -> None:
        left = np.frombuffer(caller, dtype=np.int16)
        right = np.frombuffer(bot, dtype=np.int16)
        both = np.empty(2 * len(left), dtype=np.int16)
        both[0::2], both[1::2] = left, right
        self._wav.writeframes(both.tobytes())

    def close(self) -> None:
        self._wav.close()
