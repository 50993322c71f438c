"""Hands what the caller said (or typed) to the call's `Conversation` and puts its answer on the bus."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from voicebot.frames import BotReply, CallerSilent, Frame, KeyPress, Transcript
from voicebot.pipeline import Processor
from voicebot.processors.turns import TurnCounter


class DialogueStage(Processor):
    def __init__(self, conversation: Any, counter: TurnCounter) -> None:
        super().__init__()
        self.conversation = conversation
        self.counter = counter
        self._keys = ""

    async def greet(self) -> None:
        await self._reply(0, self.conversation.greet)

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, Transcript):
            await self._reply(frame.turn, self.conversation.respond, frame.text)
        elif isinstance(frame, KeyPress):
            # Mirror the conversation's keypad buffer only to label the turn; "*" clears both.
            self._keys = "" if frame.digit == "*" else self._keys + frame.digit
            heard = f"DTMF {self._keys}"
            turn = await self._reply(None, self.conversation.keypress, frame.digit, heard=heard)
            if turn is not None:
                self._keys = ""
        elif isinstance(frame, CallerSilent):
            # Silence after typed digits submits them (the conversation's rule): say so in the record.
            heard = f"DTMF {self._keys} (then silence)" if self._keys else "(silence)"
            self._keys = ""
            await self._reply(None, self.conversation.no_input, heard=heard)
        else:
            await self.push(frame)

    async def _reply(self, turn: int | None, fn: Callable[..., Any], *args: Any, heard: str = "") -> int | None:
        t0 = time.perf_counter()
        bot = await self.clock.work(fn, *args)
        ms = (time.perf_counter() - t0) * 1000
        if bot is None:
            return None
        turn = self.counter.next() if turn is None else turn
        await self.push(
            BotReply(
                turn=turn,
                text=bot.text,
                intent=bot.intent,
                slots=dict(bot.slots),
                generator=bot.generator,
                confidence=bot.confidence,
                dialogue_ms=ms,
                interruptible=bot.interruptible,
                end_call=bot.end_call,
                transfer_to=bot.transfer_to,
                sentiment=bot.sentiment,
                expecting=bot.expecting,
                heard=heard,
                crm_turn=bot.index,
            )
        )
        return turn
