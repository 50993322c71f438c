"""`SipCallTransport`: one SIP call as a voicebot `Transport` (see voicebot/transport.py).

Three threads meet here, each touching only its own part (the signalling half is `dialog.SipDialog`):
- pjsip's clock thread calls `bot_frame` / `caller_frame` every 20 ms: pull the playout, hand the caller's
  frame to the event loop with `call_soon_threadsafe`, nothing else;
- the pjsip thread calls `on_*` (state, media, DTMF, transfer): forwarded to the loop the same way;
- the event loop runs `run()`: CallerAudio/KeyPress/InputEnded/HangUp onto the bus, RTP watchdog,
  recording; hang-up, transfer and DTMF out come from `SipDialog`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from telephony.dialog import SipDialog
from telephony.endpoint import SipEndpoint
from telephony.recording import StereoRecorder
from voicebot.frames import FRAME_BYTES, CallerAudio, HangUp, InputEnded, KeyPress
from voicebot.playout import Playout
from voicebot.transport import CallIO, Transport, TransportCapabilities

log = logging.getLogger(__name__)

SILENCE = b"\x00" * FRAME_BYTES
_RTP_POLL_S = 0.25
INPUT_END_GRACE_S = 10.0  # after RTP loss the session may still say goodbye; then we hang up anyway


class SipCallTransport(SipDialog, Transport):
    capabilities = TransportCapabilities(name="sip", realtime=True, dtmf=True, transfer=True, recording=True)

    def __init__(
        self,
        endpoint: SipEndpoint,
        loop: asyncio.AbstractEventLoop,
        direction: str,
        rtp_timeout_s: float,
        record_dir: str | None = None,
    ) -> None:
        super().__init__(endpoint, loop, direction)
        self._rtp_timeout_s = rtp_timeout_s
        self._record_dir = record_dir
        self._recorder: StereoRecorder | None = None
        self._recording_path: str | None = None
        self._playout: Playout | None = None  # read by the clock thread
        self._tick_bot: bytes | None = None
        self._inbox: deque[tuple[Any, ...]] = deque()
        self._wake = asyncio.Event()
        self.frames_in = 0  # caller frames the bridge delivered (decoded RTP, or its PLC/zero fill)
        self.frames_silent = 0  # ticks with no frame at all (stream not started): sent as silence
        self.frames_out = 0  # bot frames sent
        self._running = False

    # --- clock thread ------------------------------------------------------------------------------
    def bot_frame(self) -> bytes | None:
        playout = self._playout
        pcm = playout.pull() if playout is not None else None
        self._tick_bot = pcm
        return pcm

    def caller_frame(self, pcm: bytes | None) -> None:
        if self._running:  # audio from before the session started is not part of the call
            self._to_loop(self._push, ("audio", pcm, self._tick_bot))

    # --- pjsip thread ------------------------------------------------------------------------------
    def on_dtmf(self, digit: str, method: str) -> None:
        self._to_loop(self._push, ("dtmf", digit, method))

    # --- event loop --------------------------------------------------------------------------------
    def _push(self, item: tuple[Any, ...]) -> None:
        self._inbox.append(item)
        self._wake.set()

    def _ended(self, code: int, reason: str) -> None:
        self._push(("bye", code, reason))

    async def run(self, io: CallIO) -> None:
        if self._record_dir:
            try:
                self._recorder = StereoRecorder.open(self._record_dir, self.sip_call_id or "call")
            except OSError as e:
                log.error("call %s: not recorded: %s", self.sip_call_id, e)  # the call matters more
        self._playout = io.playout
        self._running = True
        watchdog = asyncio.ensure_future(self._watch_rtp())
        ended = asyncio.ensure_future(_set_when(io.ended, self._wake))
        try:
            await self._pump(io)
        finally:
            self._running = False
            self._playout = None
            watchdog.cancel()
            ended.cancel()
            self._stop_recording()
            if not self.disconnected.is_set():
                await self.hangup()
            log.info("call %s ended: %s, frames in %d (silent %d), out %d, rx %s", self.sip_call_id,
                     self.codec, self.frames_in, self.frames_silent, self.frames_out, self.rx_stats)

    async def _pump(self, io: CallIO) -> None:
        give_up_at = float("inf")  # set once the caller's RTP is gone
        while True:
            while self._inbox:
                item = self._inbox.popleft()
                kind = item[0]
                now = io.clock.now()
                if kind == "audio":
                    pcm, bot = item[1], item[2]
                    if pcm is None:
                        self.frames_silent += 1
                    else:
                        self.frames_in += 1
                    if bot is not None:
                        self.frames_out += 1
                    if self._recorder is not None:
                        self._record(pcm or SILENCE, bot or SILENCE)
                    await io.send(CallerAudio(pcm or SILENCE, t=now))
                elif kind == "dtmf":
                    await io.send(KeyPress(item[1], t=now))
                elif kind == "bye":
                    await io.send(HangUp(t=now, by=self.ended_by or "caller", reason=f"{item[1]} {item[2]}".strip()))
                    return
                elif kind == "rtp_lost":
                    # like a file running out: the session may finish its reply, then ends the call
                    await io.send(InputEnded(t=now, reason=item[1]))
                    give_up_at = time.monotonic() + INPUT_END_GRACE_S
            if io.ended.is_set() or time.monotonic() > give_up_at:
                return
            self._wake.clear()
            if not self._inbox and not io.ended.is_set():
                await self._wake.wait()

    async def _watch_rtp(self) -> None:
        last_count, last_rx = -1, time.monotonic()
        while True:
            await asyncio.sleep(_RTP_POLL_S)
            n = await self._rx_packets()
            if n < 0:
                return
            if n != last_count or not self._media_on:
                last_count, last_rx = n, time.monotonic()
            elif time.monotonic() - last_rx > self._rtp_timeout_s:
                self._push(("rtp_lost", f"no RTP from the caller for {self._rtp_timeout_s:g} s"))
                return

    def _record(self, caller: bytes, bot: bytes) -> None:
        try:
            self._recorder.write(caller, bot)
        except OSError as e:  # e.g. the disk is full: keep the call, lose the rest of its recording
            log.error("call %s: recording stopped: %s", self.sip_call_id, e)
            self._stop_recording()

    def _stop_recording(self) -> None:
        rec = self._recorder
        if rec is None:
            return
        self._recording_path = str(rec.path)
        self._recorder = None
        try:
            rec.close()
        except OSError as e:
            log.error("call %s: recording not closed cleanly: %s", self.sip_call_id, e)

    def recording_path(self) -> str | None:
        """The call's recording (also after the call, and after a write error: what was saved)."""
        rec = self._recorder
        return str(rec.path) if rec is not None else self._recording_path


async def _set_when(event: asyncio.Event, wake: asyncio.Event) -> None:
    await event.wait()
    wake.set()
