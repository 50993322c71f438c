"""The frame bus: a chain of small processors, each with its own queue and task.

Data frames flow downstream in order through each processor's queue. Control frames (barge-in, the caller
hanging up) are *broadcast*: every processor's `on_control` runs at once, ahead of anything queued, so a
barge-in reaches the playout in the same 20 ms tick it was detected, even while the TTS processor is in
the middle of a clause. Observers see every frame any processor emits (metrics, logs, the call record).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence

from voicebot.clock import Clock
from voicebot.frames import Frame

log = logging.getLogger(__name__)

Observer = Callable[[Frame], None]


class Processor:
    """Override `process` for data frames and `on_control` for control frames; call `push` to emit."""

    def __init__(self) -> None:
        self.pipeline: Pipeline | None = None
        self._next: Processor | None = None
        self._queue: deque[Frame] = deque()
        self._wake = asyncio.Event()

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def clock(self) -> Clock:
        assert self.pipeline is not None, "processor is not in a pipeline"
        return self.pipeline.clock

    async def process(self, frame: Frame) -> None:
        await self.push(frame)

    def on_control(self, frame: Frame) -> None:
        """Runs synchronously when a control frame is broadcast. Must not block."""

    async def push(self, frame: Frame) -> None:
        assert self.pipeline is not None
        if frame.control:
            self.pipeline.broadcast(frame)
            return
        self.pipeline.observe(frame)
        if self._next is not None:
            self._next.enqueue(frame)

    def enqueue(self, frame: Frame) -> None:
        assert self.pipeline is not None
        self.pipeline.clock.hold()
        self._queue.append(frame)
        self._wake.set()

    async def start(self) -> None:
        """Load or warm what the processor needs before the first frame (runs once per call)."""

    async def close(self) -> None:
        """Release per-call resources."""

    async def run(self) -> None:
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            frame = self._queue.popleft()
            try:
                await self.process(frame)
            except Exception:
                # One bad frame must not silence the call: log it and keep going.
                log.exception("%s failed on %s", self.name, type(frame).__name__)
            finally:
                self.pipeline.clock.release()


class Pipeline:
    def __init__(self, processors: Sequence[Processor], clock: Clock) -> None:
        self.processors = list(processors)
        self.clock = clock
        self.observers: list[Observer] = []
        for a, b in zip(self.processors, self.processors[1:], strict=False):
            a._next = b
        for p in self.processors:
            p.pipeline = self
        self._tasks: list[asyncio.Task[None]] = []

    def observe(self, frame: Frame) -> None:
        for obs in self.observers:
            try:
                obs(frame)
            except Exception:
                log.exception("observer failed on %s", type(frame).__name__)

    def broadcast(self, frame: Frame) -> None:
        """Deliver a control frame to every processor now, ahead of queued data."""
        for p in self.processors:
            try:
                p.on_control(frame)
            except Exception:
                log.exception("%s failed on control %s", p.name, type(frame).__name__)
        self.observe(frame)

    async def feed(self, frame: Frame) -> None:
        """Put a frame from a transport at the head of the chain."""
        if frame.control:
            self.broadcast(frame)
        else:
            self.observe(frame)
            self.processors[0].enqueue(frame)

    async def start(self) -> None:
        for p in self.processors:
            await p.start()
        self._tasks = [asyncio.create_task(p.run(), name=p.name) for p in self.processors]

    async def drain(self, timeout: float = 60.0) -> None:
        """Wait until no frame is queued and no engine is working."""
        async def idle() -> None:
            while self.clock.busy:
                await asyncio.sleep(0.005)

        await asyncio.wait_for(idle(), timeout)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for p in self.processors:
            try:
                await p.close()
            except Exception:
                log.exception("%s failed to close", p.name)
