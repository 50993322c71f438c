"""`SipDialog`: the signalling half of one call as the event loop sees it.

State (`confirmed`, `media_active`, `disconnected`) arrives from the pjsip thread through
`call_soon_threadsafe`; actions (hang up, transfer, DTMF) go back to the pjsip thread with
`endpoint.run`. The pj.Call itself (`self.call`) is only touched on the pjsip thread and dropped there
when the dialog ends, so it is never freed by the GC of another thread. `SipCallTransport` adds media.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

import pjsua2 as pj

from telephony.call import BotCall
from telephony.endpoint import SipEndpoint
from telephony.uri import uri_user

log = logging.getLogger(__name__)

DTMF_DIGITS = re.compile(r"^[0-9A-Da-d*#]+$")


class CallFailed(RuntimeError):
    """An outgoing call did not reach media: busy, rejected, unreachable, timed out."""


class SipDialog:
    def __init__(self, endpoint: SipEndpoint, loop: asyncio.AbstractEventLoop, direction: str) -> None:
        self.endpoint = endpoint
        self.direction = direction
        self.caller_id: str | None = None
        self.remote_uri = ""
        self.sip_call_id = ""
        self.codec = ""
        self.call: BotCall | None = None  # pjsip thread only
        self.follow_transfer: Callable[[str], BotCall | None] | None = None  # pjsip thread
        self.on_end: Callable[[SipDialog], None] | None = None  # event loop, once the dialog ended
        self._loop = loop
        self._xfer: asyncio.Future[bool] | None = None
        self._xfer_accepted = False
        self._media_on = False
        self.confirmed = asyncio.Event()
        self.media_active = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.end_code = 0
        self.end_reason = ""
        # who ended the dialog: "caller" (the far end's BYE or final response), "bot" (our hangup()),
        # "system" (our hangup() for a server stop, or the SIP stack freed the call)
        self.ended_by = ""
        self._hung_up_by = ""  # set by hangup(), read when the dialog ends (event loop)
        self.rx_stats: dict[str, int] = {}  # last receive counters seen (see BotCall.rx_stats)

    # --- pjsip thread ------------------------------------------------------------------------------
    def attach(self, call: BotCall) -> None:
        self.call = call

    def _to_loop(self, fn: Callable[..., object], *args: object) -> None:
        """Run `fn(*args)` on the event loop; from pjsip's threads, never raising into them."""
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass

    def on_state(self, state: int, code: int, reason: str) -> None:
        call = self.call
        if call is not None and not self.remote_uri:
            ci = call.getInfo()
            self.remote_uri, self.sip_call_id = ci.remoteUri, ci.callIdString
            self.caller_id = uri_user(ci.remoteUri)
        if state == pj.PJSIP_INV_STATE_CONFIRMED:
            self._to_loop(self.confirmed.set)
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            freed = call is not None and call.released  # BotCall.release(): the stack is stopping
            self.call = None  # the endpoint frees it on its thread
            self._to_loop(self._on_disconnected, code, reason, freed)

    def on_media(self, active: bool) -> None:
        self._media_on = active  # on hold the far end rightly sends no RTP: the watchdog waits
        if active and self.call is not None:
            self.codec = self.call.codec()
            self._to_loop(self.media_active.set)

    def on_transfer_status(self, code: int, reason: str, final: bool) -> None:
        self._to_loop(self._on_xfer_status, code, reason, final)

    def on_transfer_request(self, target: str) -> BotCall | None:
        return self.follow_transfer(target) if self.follow_transfer is not None else None

    # --- event loop --------------------------------------------------------------------------------
    def _ended(self, code: int, reason: str) -> None:
        """The dialog is over (subclasses tell their consumer)."""

    def _on_disconnected(self, code: int, reason: str, freed: bool = False) -> None:
        self.end_code, self.end_reason = code, reason
        self.ended_by = self._hung_up_by or ("system" if freed else "caller")
        self.disconnected.set()
        self.media_active.set()  # wake anyone waiting for media: it will not come
        self._ended(code, reason)
        if self.on_end is not None:
            self.on_end(self)
        if self._xfer is not None and not self._xfer.done():
            # a transferee that accepted the REFER may hang up on us before (or instead of) NOTIFY 200
            self._xfer.set_result(self._xfer_accepted)

    def _on_xfer_status(self, code: int, reason: str, final: bool) -> None:
        log.info("transfer status %d %s%s", code, reason, " (final)" if final else "")
        fut = self._xfer
        if fut is None or fut.done():
            return
        if code < 300:
            self._xfer_accepted = True  # 202 (reported as 100 "Accepted") or a NOTIFY with progress
        if code >= 300:
            fut.set_result(False)
        elif 200 <= code < 300 and (final or code != 202):
            fut.set_result(True)

    @property
    def ready(self) -> bool:
        return self.confirmed.is_set() and self.media_active.is_set() and not self.disconnected.is_set()

    async def wait_ready(self, timeout: float) -> None:
        """Wait for CONFIRMED + active audio; raise CallFailed if the call ends or times out first."""
        async def both() -> None:
            await self.confirmed.wait()
            await self.media_active.wait()

        waiter = asyncio.ensure_future(both())
        ended = asyncio.ensure_future(self.disconnected.wait())
        try:
            await asyncio.wait({waiter, ended}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            ended.cancel()
        if self.disconnected.is_set():
            raise CallFailed(f"call ended before media: {self.end_code} {self.end_reason}".rstrip())
        if not self.ready:
            # no final answer: CANCEL; a peer that never answered at all keeps pjsip's INVITE
            # transaction alive until its own timer (32 s), so do not wait for that here
            await self.hangup(wait_s=1.0)
            raise CallFailed(f"no answer with media within {timeout:.0f} s")

    async def wait_first_rtp(self, timeout: float) -> bool:
        """Wait until the far end's first RTP packet arrived (True) or `timeout` passed (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.disconnected.is_set():
            if await self._rx_packets() > 0:
                return True
            await asyncio.sleep(0.02)
        return False

    async def _rx_packets(self) -> int:
        """RTP packets received so far (-1 once the call is gone); keeps `rx_stats` current."""
        def stats() -> dict[str, int] | None:
            return self.call.rx_stats() if self.call is not None else None

        try:
            st = await self.endpoint.run(stats)
        except RuntimeError:
            return -1
        if st is None:
            return -1
        self.rx_stats = st
        return st["packets"]

    # --- actions -----------------------------------------------------------------------------------
    async def hangup(self, code: int = 0, wait_s: float = 5.0, by: str = "bot") -> None:
        """End the call (BYE, or a final response `code` if not answered yet); wait until it ended.
        `by` is what `ended_by` will say ("bot", or "system" for a server stop)."""

        def bye() -> None:
            if self.call is not None:
                prm = pj.CallOpParam()
                if code:
                    prm.statusCode = code
                self.call.hangup(prm)

        if self.disconnected.is_set():
            return
        self._hung_up_by = self._hung_up_by or by
        try:
            await self.endpoint.run(bye)
        except (pj.Error, RuntimeError) as e:
            log.info("hangup: %s", getattr(e, "reason", e))
        try:
            await asyncio.wait_for(self.disconnected.wait(), wait_s)
        except TimeoutError:
            log.warning("call %s: no end of dialog %.0f s after BYE", self.sip_call_id, wait_s)

    async def transfer(self, target: str, timeout: float = 30.0) -> bool:
        """Blind transfer (REFER). True once the far end reports the new call answered (NOTIFY 200)."""
        if self.disconnected.is_set():
            return False
        self._xfer = self._loop.create_future()
        self._xfer_accepted = False

        def refer() -> None:
            if self.call is None:
                raise RuntimeError("call already ended")
            self.call.xfer(target, pj.CallOpParam(True))

        try:
            await self.endpoint.run(refer)
        except (pj.Error, RuntimeError) as e:
            log.warning("transfer to %s failed: %s", target, getattr(e, "reason", e))
            return False
        try:
            ok = await asyncio.wait_for(self._xfer, timeout)
        except TimeoutError:
            log.warning("transfer to %s: no final NOTIFY within %.0f s", target, timeout)
            ok = False
        if ok:
            await self.hangup()  # the caller now talks to the target: our leg is done
        return ok

    async def send_dtmf(self, digits: str, method: str = "rfc2833") -> None:
        """Send DTMF digits to the far end (RFC 2833 in RTP, or SIP INFO)."""
        if not DTMF_DIGITS.match(digits):
            raise ValueError(f"DTMF digits {digits!r}: only 0-9, A-D, * and # are allowed")
        methods = {"rfc2833": pj.PJSUA_DTMF_METHOD_RFC2833, "info": pj.PJSUA_DTMF_METHOD_SIP_INFO}
        if method not in methods:
            raise ValueError(f"DTMF method {method!r}: use 'rfc2833' or 'info'")

        def send() -> None:
            if self.call is None:
                raise RuntimeError("call already ended")
            prm = pj.CallSendDtmfParam()
            prm.method = methods[method]
            prm.digits = digits
            self.call.sendDtmf(prm)

        await self.endpoint.run(send)
