"""The transport interface: how a call's audio gets in and out.

A transport carries exactly one call. `CallSession` gives it a `CallIO` and does not know whether the
other end is a SIP phone or a WAV file (a sound-card transport would plug in the same way). It must:

- feed the caller's side in order: `CallerAudio` every 20 ms (16 kHz s16 mono, 640 bytes; silence
  when nothing arrives), `KeyPress` for DTMF, and finally `InputEnded` (source exhausted, media lost) or a
  `HangUp(by="caller")` control frame;
- pull `io.playout` every 20 ms on its own clock and send what it returns (None = silence);
- return from `run` once the call is over: the far end left, or `io.ended` was set by the session
  (then it hangs up its side itself, e.g. SIP BYE).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from voicebot.clock import Clock
from voicebot.frames import Frame
from voicebot.playout import Playout


@dataclass
class CallIO:
    clock: Clock
    playout: Playout
    feed: Callable[[Frame], Awaitable[None]]
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, frame: Frame) -> None:
        await self.feed(frame)


@dataclass(frozen=True)
class TransportCapabilities:
    name: str
    realtime: bool  # paced by a wall clock it does not control (SIP)
    dtmf: bool = False
    transfer: bool = False
    recording: bool = False


class Transport(ABC):
    capabilities: TransportCapabilities
    caller_id: str | None = None  # the remote party's number or URI, for the CRM lookup
    direction: str = "inbound"  # "inbound" | "outbound"

    @abstractmethod
    async def run(self, io: CallIO) -> None:
        """Carry the call's media until it is over (see module doc)."""

    async def transfer(self, target: str) -> bool:
        """Hand the caller to a person at `target` (blind transfer). True if the far end accepted."""
        return False

    def recording_path(self) -> str | None:
        """Where this call's recording was written, if the transport records."""
        return None
