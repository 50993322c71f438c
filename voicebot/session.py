"""`CallSession`: one phone call, from greeting to hang-up, on any transport.

It builds the call's pipeline (turns → transcriber → dialogue → speech out), greets, lets the transport
carry the media, and ends the call when the conversation says so (goodbye, transfer), when the caller
leaves, or when the caller's audio runs out. The call is closed on the CRM interaction either way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from voicebot.clock import Clock
from voicebot.config import Settings
from voicebot.engines import Engines
from voicebot.frames import BotReply, Frame, HangUp, InputEnded
from voicebot.pipeline import Observer, Pipeline
from voicebot.playout import Playout, PlayoutEvent
from voicebot.processors import DialogueStage, SpeechOut, Transcriber, TurnCounter, TurnDetector
from voicebot.record import CallRecord, TurnRecord
from voicebot.transport import CallIO, Transport

log = logging.getLogger(__name__)


@dataclass
class CallResult:
    interaction_id: int | None
    turns: list[TurnRecord]
    ended_by: str
    outcome: str | None
    duration_s: float
    transferred_to: str | None = None

    @property
    def caller_turns(self) -> list[TurnRecord]:
        return [t for t in self.turns if t.caller_turn]


class CallSession:
    def __init__(
        self, transport: Transport, engines: Engines, settings: Settings, clock: Clock | None = None,
        reason: dict | None = None, observers: Sequence[Observer] = (),
    ) -> None:
        self.transport = transport
        self.engines = engines
        self.settings = settings
        self.clock = clock or Clock()
        self.reason = reason
        self.observers = list(observers)  # e.g. the demo's live transcript printer
        self.record = CallRecord()
        self.playout = Playout(self.clock.now)
        self.ended_by = ""
        self.transferred_to: str | None = None
        self._io: CallIO | None = None
        self._end_after: dict[int, str] = {}  # reply turn -> "hangup" | transfer target
        self._tasks: set[asyncio.Task[None]] = set()
        self.turns: TurnDetector | None = None

    async def run(self) -> CallResult:
        loop = asyncio.get_running_loop()
        conv = await self.clock.work(
            lambda: self.engines.dialogue.start(
                self.transport.caller_id, direction=self.transport.direction,
                channel=self.transport.capabilities.name, reason=self.reason,
            )
        )
        counter = TurnCounter()
        self.turns = TurnDetector(self.settings.turns, self.playout, counter)
        dialogue = DialogueStage(conv, counter)
        pipeline = Pipeline(
            [self.turns, Transcriber(self.engines.recognizer, self.engines.asr_pool), dialogue,
             SpeechOut(self.engines.synthesizer, self.playout, counter)],
            self.clock,
        )
        pipeline.observers.append(self.record.observe)
        pipeline.observers.append(self._observe)
        pipeline.observers.extend(self.observers)
        self.playout.listeners.append(lambda ev: loop.call_soon_threadsafe(self._on_playout, ev))
        self._pipeline = pipeline
        self._io = io = CallIO(self.clock, self.playout, pipeline.feed)
        media: asyncio.Task[None] | None = None
        try:
            await pipeline.start()
            media = asyncio.create_task(self.transport.run(io), name="transport")
            await dialogue.greet()
            await asyncio.wait_for(self._wait_end(media), self.settings.call.max_call_s)
        except TimeoutError:
            self.ended_by = self.ended_by or "max duration"
        except Exception:
            # An engine failing at the start must not leave the line open or the CRM record dangling.
            log.exception("call failed")
            self.ended_by = self.ended_by or "error"
        finally:
            io.ended.set()
            if media is not None:
                try:
                    await asyncio.wait_for(media, 10)
                except (TimeoutError, Exception) as e:  # the transport failing must still close the record
                    log.warning("transport did not stop cleanly: %r", e)
                    media.cancel()
            await pipeline.stop()
            for task in self._tasks:
                task.cancel()
        return await self._close(conv)

    async def _wait_end(self, media: asyncio.Task[None]) -> None:
        assert self._io is not None
        ended = asyncio.create_task(self._io.ended.wait())
        await asyncio.wait({media, ended}, return_when=asyncio.FIRST_COMPLETED)
        if not ended.done():
            ended.cancel()
            self.ended_by = self.ended_by or "line"  # the transport stopped on its own (media lost, file done)

    def _observe(self, frame: Frame) -> None:
        if isinstance(frame, BotReply):
            if frame.transfer_to:
                self._end_after[frame.turn] = frame.transfer_to
            elif frame.end_call:
                self._end_after[frame.turn] = "hangup"
            if self.turns is not None:
                self.turns.expecting = frame.expecting
        elif isinstance(frame, HangUp) and frame.by == "caller":
            self.ended_by = "caller"
            self._end()
        elif isinstance(frame, InputEnded):
            self._spawn(self._finish_after_input())

    def _on_playout(self, ev: PlayoutEvent) -> None:
        self.record.on_playout(ev)
        if ev.kind == "started":
            return
        action = self._end_after.pop(ev.turn, None)
        if ev.kind == "interrupted":
            return  # the caller cut in on the goodbye or the hand-over line: their new turn decides
        if action == "hangup":
            self.ended_by = "bot"
            self._end()
        elif action:
            self._spawn(self._transfer(action))

    async def _transfer(self, target: str) -> None:
        ok = await self.transport.transfer(target)
        if ok:
            self.transferred_to = target
            self.ended_by = "transfer"
            self._end()
        else:
            log.warning("transfer to %s failed; staying on the line", target)

    async def _finish_after_input(self) -> None:
        """The caller's audio ran out: let the bot finish answering, then end the call."""
        await self._pipeline.drain()
        while self.playout.speaking:
            await self.clock.sleep_until(self.clock.now() + 0.02)
        self.ended_by = self.ended_by or "input ended"
        self._end()

    def _end(self) -> None:
        if self._io is not None:
            self._io.ended.set()

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close(self, conv: object) -> CallResult:
        turns = self.record.ordered()
        for r in turns:
            if r.crm_turn is not None:
                try:
                    await self.clock.work(conv.record_turn_timings, r.crm_turn, r.timings_ms, r.interrupted)
                except Exception:  # timings are a nice-to-have: never let them stop the call being closed
                    log.exception("could not store the timings of turn %s", r.crm_turn)
        outcome = "transferred" if self.transferred_to else None
        recording = self.transport.recording_path()
        interaction = None
        try:
            await self.clock.work(lambda: conv.close(outcome, recording))
            interaction = await self.clock.work(self.engines.store.interaction, conv.interaction_id)
        except Exception:
            log.exception("could not close interaction %s in the CRM", conv.interaction_id)
        return CallResult(
            interaction_id=conv.interaction_id,
            turns=turns,
            ended_by=self.ended_by,
            outcome=getattr(interaction, "outcome", outcome),
            duration_s=round(self.clock.now(), 3),
            transferred_to=self.transferred_to,
        )
