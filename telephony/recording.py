"""Call recording: one stereo WAV per call, caller on the left, bot on the right, 16 kHz.

Written from the event loop with the frame pairs the media port saw in the same bridge tick, so the two
legs stay aligned for the whole call (two separate mono recorders drift apart when one leg pauses).

The WAV header is written by hand: its sizes are set from what actually reached the disk, once a second
(a crashed process leaves a playable file, less the last second) and at close (also after a write failed,
e.g. a full disk: the file then holds what fitted). The wave module would instead rewrite the header on
every 20 ms frame (3 syscalls a frame), and after a failed write its close fails too and the header
never gets its sizes.
"""

from __future__ import annotations

import os
import re
import struct
import time
from pathlib import Path

import numpy as np

from voicebot.frames import SAMPLE_RATE

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_HEADER_BYTES = 44
_PATCH_EVERY = 50  # frames: once a second


def _header(data_bytes: int) -> bytes:
    channels, width = 2, 2
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, SAMPLE_RATE, SAMPLE_RATE * channels * width,
                                    channels * width, 8 * width)
            + b"data" + struct.pack("<I", data_bytes))


class StereoRecorder:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("wb")
        self._file.write(_header(0))
        self._frames = 0

    @classmethod
    def open(cls, record_dir: str | Path, call_id: str) -> StereoRecorder:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = _UNSAFE.sub("_", call_id)[:60] or "call"
        return cls(Path(record_dir) / f"{stamp}-{name}.wav")

    def write(self, caller: bytes, bot: bytes) -> None:
        """One 20 ms frame of each leg. OSError (e.g. no space left) is the caller's to handle."""
        left = np.frombuffer(caller, dtype=np.int16)
        right = np.frombuffer(bot, dtype=np.int16)
        both = np.empty(2 * len(left), dtype=np.int16)
        both[0::2], both[1::2] = left, right
        self._file.write(both.tobytes())
        self._frames += 1
        if self._frames % _PATCH_EVERY == 0:
            self._file.flush()
            self._patch_header()

    def close(self) -> None:
        """Finish the file with the sizes of what is on disk; OSError if even that failed."""
        if self._file.closed:
            return
        try:
            try:
                self._file.flush()
            except OSError:
                pass  # the buffered tail is lost (full disk); the header must still match the rest
            self._patch_header()
        finally:
            try:
                self._file.close()
            except OSError:
                pass  # close() flushes again: same lost tail

    def _patch_header(self) -> None:
        on_disk = os.fstat(self._file.fileno()).st_size
        data = max(0, on_disk - _HEADER_BYTES) // 4 * 4  # whole stereo samples
        raw = self._file.raw  # unbuffered: the buffer may hold bytes a full disk refused
        end = raw.tell()
        raw.seek(0)
        raw.write(_header(data))
        raw.seek(end)
