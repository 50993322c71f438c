"""Call clocks: one code path for real time and for fast QA replay.

`Clock` runs in real time. `FastClock` skips the time nobody is working: while an engine runs (ASR, dialogue,
TTS, marked with `clock.work(...)`) virtual time flows at wall speed, so the replayed call shows the real
latency; when every task only waits for the next frame and no frame is queued on the bus, time jumps.
A 60 s fixture thus replays in the seconds its engines need, and the reply lands where it would live.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

T = TypeVar("T")


class Clock:
    """Media time in seconds since the call started."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()
        self._busy = 0  # frames queued on the bus + engine calls running
        self._working = 0  # engine calls running in threads

    def now(self) -> float:
        return time.monotonic() - self._t0

    async def sleep_until(self, t: float) -> None:
        delay = t - self.now()
        if delay > 0:
            await asyncio.sleep(delay)

    async def work(self, fn: Callable[..., T], *args: object, pool: Executor | None = None) -> T:
        """Run blocking engine work in a thread (of `pool`, else the loop's default); counted as busy time."""
        self.hold()
        self._working += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        finally:
            self._working -= 1
            self.release()

    def hold(self) -> None:
        """Something is in flight (a queued frame, an engine call): time must not jump."""
        self._busy += 1

    def release(self) -> None:
        self._busy -= 1

    @property
    def busy(self) -> bool:
        return self._busy > 0


class FastClock(Clock):
    def __init__(self) -> None:
        super().__init__()
        self._skipped = 0.0

    def now(self) -> float:
        return super().now() + self._skipped

    async def sleep_until(self, t: float) -> None:
        while True:
            delay = t - self.now()
            if delay <= 0:
                return
            if self._working:
                # An engine is working: wait in wall time, in small steps, so the reply lands on time.
                await asyncio.sleep(min(delay, 0.002))
                continue
            if self._busy:
                await asyncio.sleep(0)  # frames still queued: let the processors take them
                continue
            # Let every ready task run first; if still nobody works, jump.
            await asyncio.sleep(0)
            if not self._busy:
                delay = t - self.now()
                if delay > 0:
                    self._skipped += delay
                return
