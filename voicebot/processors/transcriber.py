"""Speech to text for each caller turn, on whichever recognizer the call was given.

A segmented recognizer (Whisper) gets the VAD-cut turn in one piece; a streaming one (vosk) is fed every
frame from speech onset, so its final text is ready soon after the turn ends.
"""

from __future__ import annotations

import time

from asr.base import Recognizer, RecognizerStream
from voicebot.frames import CallerAudio, CallerSpeechStarted, CallerTurn, Frame, Transcript
from voicebot.pipeline import Processor


class Transcriber(Processor):
    def __init__(self, recognizer: Recognizer) -> None:
        super().__init__()
        self.recognizer = recognizer
        self.streaming = recognizer.capabilities.streaming
        self._stream: RecognizerStream | None = None

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, CallerSpeechStarted):
            if self.streaming:
                self._stream = self.recognizer.stream()
                await self.clock.work(self._stream.accept, frame.preroll)
        elif isinstance(frame, CallerAudio):
            if self._stream is not None:
                await self.clock.work(self._stream.accept, frame.pcm)
        elif isinstance(frame, CallerTurn):
            await self._transcribe(frame)
        else:
            await self.push(frame)

    async def _transcribe(self, turn: CallerTurn) -> None:
        t0 = time.perf_counter()
        if self._stream is not None:
            result = await self.clock.work(self._stream.finish)
            self._stream = None
        else:
            result = await self.clock.work(self.recognizer.transcribe, turn.pcm)
        await self.push(
            Transcript(
                turn=turn.turn,
                text=result.text.strip(),
                start_s=turn.start_s,
                end_s=turn.end_s,
                decided_s=turn.decided_s,
                asr_ms=(time.perf_counter() - t0) * 1000,
                confidence=result.confidence,
            )
        )
