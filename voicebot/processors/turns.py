"""Turn-taking: webrtcvad decides when the caller starts and stops talking.

- A turn starts after `onset_ms` of voiced audio (with `preroll_ms` kept from before, so the first word is
  not clipped) and ends after `end_silence_ms` of silence — longer (`expecting_silence_ms`) while the bot is
  waiting for something people read out in pieces, like an order number.
- While the bot speaks, the caller interrupts (barge-in) only after `barge_in_ms` of speech and only if the
  reply is interruptible; during a non-interruptible reply (the greeting) caller audio is ignored, so line
  echo of our own voice never becomes a turn.
- No speech for `no_input_s` while the bot is quiet and not busy answering → `CallerSilent`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import webrtcvad

from voicebot.frames import (
    FRAME_MS,
    SAMPLE_RATE,
    BargeIn,
    CallerAudio,
    CallerPause,
    CallerSilent,
    CallerSpeechStarted,
    CallerTurn,
    Frame,
    InputEnded,
    KeyPress,
)
from voicebot.pipeline import Processor
from voicebot.playout import Playout


@dataclass
class TurnSettings:
    vad_aggressiveness: int = 2  # webrtcvad 0..3: higher rejects more noise
    end_silence_ms: int = 400
    expecting_silence_ms: int = 800
    # Answers people read out in pieces, with pauses ("four five... six seven"): wait longer after asking.
    slow_answers: tuple[str, ...] = ("order_number",)
    onset_ms: int = 60
    barge_in_ms: int = 200
    min_speech_ms: int = 120
    preroll_ms: int = 300
    max_turn_s: float = 20.0  # fits the recognizer's fast 20 s window
    # Start recognising this long before the end-of-turn silence is confirmed; 0 turns it off.
    speculative_lead_ms: int = 200
    no_input_s: float = 8.0
    min_rms: float = 60.0  # int16 RMS below which a frame is silence whatever the VAD says


REPLY_WAIT_S = 20.0


class TurnCounter:
    """One sequence of turn ids per call, shared by caller turns and unprompted bot turns."""

    def __init__(self) -> None:
        self.current = 0

    def next(self) -> int:
        self.current += 1
        return self.current


class TurnDetector(Processor):
    def __init__(self, settings: TurnSettings, playout: Playout, counter: TurnCounter) -> None:
        super().__init__()
        self.settings = settings
        self.playout = playout
        self.counter = counter
        self.expecting: str | None = None
        self._vad = webrtcvad.Vad(settings.vad_aggressiveness)
        self._preroll: deque[bytes] = deque(maxlen=max(1, settings.preroll_ms // FRAME_MS))
        self._run = 0  # consecutive voiced frames before a turn starts
        self._turn: int | None = None
        self._frames: list[bytes] = []
        self._start_s = 0.0
        self._last_voiced_s = 0.0
        self._voiced_frames = 0
        self._silent_frames = 0
        self._last_activity_s = 0.0
        self._awaiting_reply = False
        self._ended = False

    def _is_speech(self, pcm: bytes) -> bool:
        rms = float(np.sqrt(np.mean(np.frombuffer(pcm, dtype=np.int16).astype(np.float32) ** 2)))
        return rms >= self.settings.min_rms and self._vad.is_speech(pcm, SAMPLE_RATE)

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, CallerAudio):
            await self._on_audio(frame)
        elif isinstance(frame, InputEnded):
            self._ended = True
            await self._end_turn(frame.t)
            await self.push(frame)
        else:
            if isinstance(frame, KeyPress):
                self._last_activity_s = frame.t
            await self.push(frame)

    async def _on_audio(self, frame: CallerAudio) -> None:
        t, step = frame.t, FRAME_MS / 1000
        voiced = self._is_speech(frame.pcm)
        if self.playout.speaking:
            self._last_activity_s = t
            self._awaiting_reply = False
        if self._turn is not None:
            self._frames.append(frame.pcm)
            await self.push(frame)  # a streaming recognizer hears the turn as it is spoken
            if voiced:
                self._voiced_frames += 1
                self._silent_frames = 0
                self._last_voiced_s = t + step
            else:
                self._silent_frames += 1
            slow = self.expecting in self.settings.slow_answers
            end_ms = self.settings.expecting_silence_ms if slow else self.settings.end_silence_ms
            too_long = t + step - self._start_s >= self.settings.max_turn_s
            silent_ms = self._silent_frames * FRAME_MS
            if silent_ms >= end_ms or too_long:
                await self._end_turn(t + step)
            elif self._speculate_now(silent_ms, end_ms):
                await self.push(CallerPause(self._turn, self._turn_audio(self._frames), self._last_voiced_s))
            return
        self._preroll.append(frame.pcm)
        self._run = self._run + 1 if voiced else 0
        if self.playout.speaking:
            if not self.playout.interruptible:
                self._run = 0  # our own echo during the greeting must never become a turn
                return
            if self._run * FRAME_MS >= self.settings.barge_in_ms:
                await self.push(BargeIn(t=t, turn=self.counter.current))
                await self._start_turn(t + step)
            return
        if self._run * FRAME_MS >= self.settings.onset_ms:
            await self._start_turn(t + step)
            return
        # A reply is on its way after a turn; give up waiting for it after a while (a failed engine).
        waiting = self._awaiting_reply and t - self._last_activity_s < REPLY_WAIT_S
        if not self._ended and not waiting and t - self._last_activity_s >= self.settings.no_input_s:
            self._last_activity_s = t
            self._awaiting_reply = True
            await self.push(CallerSilent(t))

    async def _start_turn(self, t: float) -> None:
        self._turn = self.counter.next()
        self._frames = list(self._preroll)
        self._start_s = t - self._run * FRAME_MS / 1000
        self._voiced_frames = self._run
        self._silent_frames = 0
        self._last_voiced_s = t
        self._run = 0
        self._preroll.clear()
        await self.push(CallerSpeechStarted(self._turn, self._start_s, b"".join(self._frames)))

    def _speculate_now(self, silent_ms: int, end_ms: int) -> bool:
        """Start recognising `speculative_lead_ms` before the endpoint — but not for a click or a cough."""
        lead = self.settings.speculative_lead_ms
        real_speech = self._voiced_frames * FRAME_MS >= self.settings.min_speech_ms
        return bool(lead) and real_speech and silent_ms == max(end_ms - lead, 100)

    def _turn_audio(self, frames: list[bytes]) -> bytes:
        # Keep ~100 ms after the last voiced frame; the rest of the trailing silence only costs ASR time.
        keep = len(frames) - max(0, self._silent_frames - 100 // FRAME_MS)
        return b"".join(frames[:keep])

    async def _end_turn(self, t: float) -> None:
        if self._turn is None:
            return
        turn, frames = self._turn, self._frames
        self._turn, self._frames = None, []
        self._last_activity_s = t
        if self._voiced_frames * FRAME_MS < self.settings.min_speech_ms:
            return  # a click or a cough: not a turn
        self._awaiting_reply = True
        await self.push(
            CallerTurn(
                turn=turn,
                pcm=self._turn_audio(frames),
                start_s=round(self._start_s, 3),
                end_s=round(self._last_voiced_s, 3),
                decided_s=round(t, 3),
            )
        )
