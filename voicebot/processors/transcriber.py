"""Speech to text for each caller turn, on whichever recognizer the call was given.

A segmented recognizer (Whisper) gets the VAD-cut turn in one piece. It starts speculatively on a
`CallerPause` — while the end-of-turn silence is still being confirmed — and if the caller stays quiet the
text is ready (or nearly) when the turn ends; if they speak again the early result is dropped. A streaming
recognizer (vosk) is fed every frame from speech onset, so its final text is ready soon after the turn ends.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor

from asr.base import Recognition, Recognizer, RecognizerStream
from voicebot.frames import CallerAudio, CallerPause, CallerSpeechStarted, CallerTurn, Frame, Transcript
from voicebot.pipeline import Processor


class Transcriber(Processor):
    def __init__(self, recognizer: Recognizer, pool: Executor | None = None) -> None:
        super().__init__()
        self.recognizer = recognizer
        self.pool = pool  # the recognizer's own threads: decodes never starve TTS and dialogue work
        self.streaming = recognizer.capabilities.streaming
        self._stream: RecognizerStream | None = None
        self._early: tuple[CallerPause, asyncio.Task[tuple[Recognition, float]]] | None = None

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, CallerSpeechStarted):
            if self.streaming:
                self._stream = self.recognizer.stream()
                await self.clock.work(self._stream.accept, frame.preroll)
        elif isinstance(frame, CallerAudio):
            if self._stream is not None:
                await self.clock.work(self._stream.accept, frame.pcm)
        elif isinstance(frame, CallerPause):
            if not self.streaming:
                self._drop_early()
                task = asyncio.ensure_future(self.clock.work(self._timed, frame.pcm, pool=self.pool))
                self._early = (frame, task)
        elif isinstance(frame, CallerTurn):
            await self._transcribe(frame)
        else:
            await self.push(frame)

    async def close(self) -> None:
        self._drop_early()
        self._stream = None

    def _timed(self, pcm: bytes) -> tuple[Recognition, float]:
        t0 = time.perf_counter()
        result = self.recognizer.transcribe(pcm)
        return result, (time.perf_counter() - t0) * 1000

    def _drop_early(self) -> None:
        if self._early is not None:
            # Not cancelled: the thread finishes its decode either way; we just ignore what it says.
            self._early[1].add_done_callback(lambda t: t.exception())
            self._early = None

    async def _transcribe(self, turn: CallerTurn) -> None:
        t0 = time.perf_counter()
        early, self._early = self._early, None
        if self._stream is not None:
            stream, self._stream = self._stream, None
            result = await self.clock.work(stream.finish)
            compute_ms = (time.perf_counter() - t0) * 1000
        elif early is not None and early[0].turn == turn.turn and early[0].pcm == turn.pcm:
            try:
                result, compute_ms = await early[1]  # the caller stayed quiet: the speculative text is the turn's
            except Exception:
                result, compute_ms = await self.clock.work(self._timed, turn.pcm, pool=self.pool)
        else:
            if early is not None:
                self._early = early
                self._drop_early()
            result, compute_ms = await self.clock.work(self._timed, turn.pcm, pool=self.pool)
        await self.push(
            Transcript(
                turn=turn.turn,
                text=result.text.strip(),
                start_s=turn.start_s,
                end_s=turn.end_s,
                decided_s=turn.decided_s,
                asr_ms=compute_ms,
                asr_wait_ms=(time.perf_counter() - t0) * 1000,  # what the caller waited, after the endpoint
                confidence=result.confidence,
            )
        )
