"""A call whose caller side is a WAV file: the QA replay transport.

The file is fed as 20 ms frames on the session's clock — real time, or the fast clock that skips idle
time — through exactly the code path a SIP call takes. What the caller would hear (their own voice plus
the bot's, mixed) is kept and can be written as `<fixture>.reply.wav`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voicebot.frames import FRAME_BYTES, FRAME_MS, CallerAudio, InputEnded
from voicebot.pcm import read_call_audio, write_wav
from voicebot.transport import CallIO, Transport, TransportCapabilities

SILENCE = b"\x00" * FRAME_BYTES


class FileTransport(Transport):
    capabilities = TransportCapabilities(name="file", realtime=False)

    def __init__(self, path: str | Path, caller_id: str | None = None, max_tail_s: float = 60.0) -> None:
        self.path = Path(path)
        self.caller_id = caller_id
        self.max_tail_s = max_tail_s  # after the file ends, how long the bot may keep talking
        pcm = read_call_audio(self.path)  # raises AudioFileError naming the file
        pad = (-len(pcm)) % FRAME_BYTES
        self._pcm = pcm + b"\x00" * pad
        self._caller: list[bytes] = []
        self._bot: list[bytes] = []

    @property
    def duration_s(self) -> float:
        return len(self._pcm) / FRAME_BYTES * FRAME_MS / 1000

    async def run(self, io: CallIO) -> None:
        n = len(self._pcm) // FRAME_BYTES
        step = FRAME_MS / 1000
        limit = n + int(self.max_tail_s / step)
        for i in range(limit):
            if io.ended.is_set():
                break
            t = i * step
            await io.clock.sleep_until(t)
            if i < n:
                frame = self._pcm[i * FRAME_BYTES : (i + 1) * FRAME_BYTES]
                await io.send(CallerAudio(frame, t))
            else:
                frame = SILENCE
                if i == n:
                    await io.send(InputEnded(t))
            self._caller.append(frame)
            self._bot.append(io.playout.pull() or SILENCE)

    def heard(self) -> bytes:
        """The whole call as the caller heard it: their voice and the bot's, on one track."""
        caller = np.frombuffer(b"".join(self._caller), dtype=np.int16).astype(np.int32)
        bot = np.frombuffer(b"".join(self._bot), dtype=np.int16).astype(np.int32)
        return np.clip(caller + bot, -32768, 32767).astype(np.int16).tobytes()

    def bot_audio(self) -> bytes:
        return b"".join(self._bot)

    def write_heard(self, path: str | Path) -> None:
        write_wav(path, self.heard())
