"""Speaks the bot's replies: clause by clause into the playout queue, and stops at once on barge-in."""

from __future__ import annotations

from tts.base import Synthesizer
from voicebot.frames import BargeIn, BotAudio, BotReply, Frame
from voicebot.pipeline import Processor
from voicebot.playout import Playout
from voicebot.processors.turns import TurnCounter


class SpeechOut(Processor):
    def __init__(self, synthesizer: Synthesizer, playout: Playout, counter: TurnCounter) -> None:
        super().__init__()
        self.synthesizer = synthesizer
        self.playout = playout
        self.counter = counter
        self._dropped_upto = -1  # replies for turns up to this id are stale after a barge-in

    def on_control(self, frame: Frame) -> None:
        if isinstance(frame, BargeIn):
            # The caller is talking: silence the line now and drop every reply decided before this moment.
            self._dropped_upto = self.counter.current
            self.playout.flush()

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, BotReply):
            await self._speak(frame)
        else:
            await self.push(frame)

    async def _speak(self, reply: BotReply) -> None:
        if reply.turn <= self._dropped_upto:
            return
        self.playout.begin(reply.turn, reply.interruptible)
        clauses = self.synthesizer.speak(reply.text)
        first = True
        try:
            while True:
                chunk = await self.clock.work(next, clauses, None)
                if chunk is None or reply.turn <= self._dropped_upto:
                    break  # done, or interrupted while this clause was being synthesized
                self.playout.enqueue(reply.turn, chunk)
                await self.push(BotAudio(reply.turn, chunk, first=first))
                first = False
        finally:
            # Always close the reply, even when the voice failed mid-way: an open reply would keep the bot
            # "speaking" for the rest of the call (no re-prompts, no hang-up, the caller's words ignored).
            if reply.turn > self._dropped_upto:
                self.playout.enqueue(reply.turn, b"", last=True)
