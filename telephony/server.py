"""`SipServer`: answers SIP calls and places them, one `on_call` task per call in an asyncio loop.

    server = SipServer(SipSettings(port=5070), on_call=handle)   # handle(transport) -> Awaitable[None]
    server.serve()                                               # until SIGINT/SIGTERM or server.stop()

or inside a running loop: `async with SipServer(...) as server: t = await server.call("sip:...")`.
Incoming INVITEs: source outside `allowed_networks` -> 403; more than `max_call_rate` new calls a second,
or no `on_call` (a server that only places calls, or one still loading its engines) -> 503 (all decided
before pjsua opens media sockets: see admission.py); `max_calls` busy -> 486 (pjsua also answers 486
itself past its compiled limit of 4, and 488 when no codec matches); shutting down -> 503; else
200 straight away, and `on_call` starts once the ACK arrived and audio flows.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections import deque
from collections.abc import Awaitable, Callable

import pjsua2 as pj

from telephony.account import BotAccount, account_uri, create_account, create_gate_account
from telephony.admission import ALLOW, InviteGate, source_ip
from telephony.call import BotCall
from telephony.call_transport import SipCallTransport
from telephony.dialog import CallFailed
from telephony.endpoint import SipEndpoint, SipStartError, one_line
from telephony.pjlog import log_exception
from telephony.settings import SipSettings
from telephony.uri import check_uri

log = logging.getLogger(__name__)

OnCall = Callable[[SipCallTransport], Awaitable[None]]
ANSWER_TIMEOUT_S = 10.0  # 200 OK sent, no ACK or no media by then: give up on the call
RING_TIMEOUT_S = 60.0  # a call we place for a transfer: how long its target may ring


class SipServer:
    def __init__(
        self, settings: SipSettings, on_call: OnCall | None = None, *, follow_transfers: bool = False
    ) -> None:
        self.settings = settings
        self.on_call = on_call  # None: incoming calls are refused (503); may be set once ready
        self.follow_transfers = follow_transfers  # a softphone follows REFER; the bot declines it
        self.endpoint = SipEndpoint(settings)
        self.account: BotAccount | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.transports: set[SipCallTransport] = set()  # calls up; touched on the event loop only
        # (status, source) of the latest INVITEs we refused; bounded: a scanner sends thousands
        self.rejected: deque[tuple[int, str]] = deque(maxlen=100)
        self.gate = InviteGate(settings, rate=settings.max_call_rate, burst=settings.max_call_rate)
        self.gate_account: BotAccount | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # one per call running on_call
        self._stop_requested: asyncio.Event | None = None
        self._closing = False  # read on the pjsip thread: refuse new INVITEs while shutting down

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        await self.loop.run_in_executor(None, self.endpoint.start)
        try:
            await self.endpoint.run(self._create_accounts)
        except BaseException as e:
            await self.loop.run_in_executor(None, self.endpoint.stop)
            self._forget_accounts()
            if isinstance(e, pj.Error):  # e.g. a URI pjsip refuses that our checks let through
                raise SipStartError(f"cannot create the SIP account: {one_line(e)}") from None
            raise

    def _create_accounts(self) -> None:  # pjsip thread
        self.account = create_account(self.endpoint, self._incoming)
        self.gate_account = create_gate_account(self.endpoint, self._refuse)
        self.endpoint.ep.select_account = self._select

    async def aclose(self) -> None:
        """Hang up every call, let their tasks finish (bounded), stop the SIP stack."""
        if self.endpoint.running:
            self._closing = True
            await asyncio.gather(*(t.hangup(wait_s=3.0, by="system") for t in list(self.transports)),
                                 return_exceptions=True)
            if self._tasks:
                _, pending = await asyncio.wait(set(self._tasks), timeout=5.0)
                for task in pending:
                    task.cancel()
        await asyncio.get_running_loop().run_in_executor(None, self.endpoint.stop)
        self._forget_accounts()

    def _forget_accounts(self) -> None:
        # Each account holds a bound method of this server, which holds the account: a cycle. Left to
        # the cyclic GC, it would be freed later on whatever thread runs it, while another SIP stack may
        # be up in this process: pjlib aborts (unregistered thread) or that stack's accounts break.
        # The library is gone now, so dropping them here frees them at once, harmlessly.
        self.account = self.gate_account = None

    async def __aenter__(self) -> SipServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def stop(self) -> None:
        """Ask `serve()` to return. Safe from any thread and from signal handlers."""
        if self.loop is not None and self._stop_requested is not None:
            self.loop.call_soon_threadsafe(self._stop_requested.set)

    async def serve_async(self) -> None:
        await self.start()
        try:
            await self._stop_requested.wait()
        finally:
            await self.aclose()

    def serve(self) -> None:
        """Answer calls until SIGINT/SIGTERM or `stop()`."""

        async def main() -> None:
            loop = asyncio.get_running_loop()
            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, self.stop)
            await self.serve_async()

        asyncio.run(main())

    async def wait_registered(self, timeout: float = 10.0) -> tuple[int, str]:
        """Wait for the first REGISTER outcome: (SIP status, reason); (0, "") if none within `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.account is not None and self.account.reg_status is not None:
                return self.account.reg_status
            await asyncio.sleep(0.05)
        return (0, "")

    @property
    def port(self) -> int:
        return self.endpoint.port

    @property
    def uri(self) -> str:
        """Where to call this server."""
        return account_uri(self.settings, self.port)

    # --- outbound ----------------------------------------------------------------------------------
    async def call(self, uri: str, timeout: float = 30.0, first_rtp_s: float = 2.0) -> SipCallTransport:
        """Call `uri`; return once it is answered and audio flows (first RTP, or `first_rtp_s` passed).

        Raises SipConfigError (a ValueError) for a malformed URI and CallFailed (with the SIP status) when
        the call is not answered. The caller runs the session on the returned transport.
        """
        uri = check_uri(uri)
        t = self._new_transport("outbound")

        def dial() -> None:
            if self.endpoint.ep.utilVerifySipUri(uri) != 0:
                check_uri("", f"uri {uri!r}")  # the same one-line error, for what only pjsip refuses
            if len(self.endpoint.live_calls) >= self.settings.max_calls:
                raise CallFailed(f"{len(self.endpoint.live_calls)} calls already up (max_calls)")
            call = BotCall(self.endpoint, self.account, t)
            t.attach(call)
            try:
                call.makeCall(uri, pj.CallOpParam(True))
            except pj.Error as e:
                reason = e.reason
            else:
                call.track()
                return
            # never dialled: free it here, on the pjsip thread (see endpoint._detached)
            t.call = None
            call.release()
            self.endpoint.drop_later(call)
            del call
            raise CallFailed(f"cannot call {uri}: {reason}")

        await self.endpoint.run(dial)
        self._track(t)  # only now: a call never dialled has no dialog that could end and untrack it
        try:
            await t.wait_ready(timeout)
        except CallFailed:
            self.transports.discard(t)
            raise
        if not await t.wait_first_rtp(first_rtp_s):
            log.info("call to %s: no RTP from the callee within %.1f s, starting anyway", uri, first_rtp_s)
        return t

    # --- inbound (pjsip thread) ----------------------------------------------------------------------
    def _select(self, source: str) -> int:
        """Before pjsua opens media for an INVITE: the real account, or the socket-less gate account."""
        verdict = self.gate.decide(source) if self.on_call is not None else "not answering calls"
        if verdict != ALLOW:
            log.info("INVITE from %s: %s", source, verdict)
            return self.gate_account.getId()
        return self.account.getId()

    def _refuse(self, call_id: int, source: str) -> None:
        """An INVITE steered to the gate account: refuse it (no media was opened for it)."""
        if not self.settings.allows(source_ip(source)):
            self._reject(call_id, 403, source, "Forbidden", self.gate_account)
        elif self.on_call is None:
            self._reject(call_id, 503, source, "Service Unavailable (not answering calls)", self.gate_account)
        else:
            self._reject(call_id, 503, source, "Service Unavailable (call rate limit)", self.gate_account)

    def _incoming(self, call_id: int, source: str) -> None:
        # the network and the call rate were checked in _select, before pjsua opened media
        if self._closing:
            self._reject(call_id, 503, source, "Service Unavailable (shutting down)")
            return
        if len(self.endpoint.live_calls) >= self.settings.max_calls:
            self._reject(call_id, 486, source, "Busy Here")
            return
        t = self._new_transport("inbound")
        call = BotCall(self.endpoint, self.account, t, call_id)
        try:
            t.attach(call)
            # 200 at once, no 180 first: nothing rings here, and behind a multi-process proxy a 180 sent
            # just before the 200 can arrive after it (Kamailio children forward in parallel).
            prm = pj.CallOpParam()
            prm.statusCode = 200
            call.answer(prm)
            self.loop.call_soon_threadsafe(self._spawn, t)
        except Exception:
            # The BotCall owns this call id now: end the call through it, or it stays in live_calls
            # (counted against max_calls) with nobody to see its end.
            log_exception(log, "answering the call from %s", source)
            call.listener = None
            self._end_failed(call, call_id)

    def _end_failed(self, call: BotCall, call_id: int) -> None:
        try:
            prm = pj.CallOpParam()
            prm.statusCode = 500
            call.hangup(prm)  # its DISCONNECTED frees it (BotCall.onCallState)
        except pj.Error as e:
            log.warning("call %d: cannot end it (%s): freeing it", call_id, e.reason)
            call.release()
            self.endpoint.live_calls.pop(call_id, None)
            self.endpoint.drop_later(call)

    def _reject(self, call_id: int, code: int, source: str, reason: str,
                account: BotAccount | None = None) -> None:
        log.info("rejecting INVITE from %s with %d %s", source, code, reason)
        self.rejected.append((code, source))
        call = BotCall(self.endpoint, account or self.account, None, call_id)
        prm = pj.CallOpParam()
        prm.statusCode = code
        prm.reason = reason
        call.hangup(prm)
        self.endpoint.drop_later(call)

    def _follow_transfer(self, target: str) -> BotCall | None:
        log.info("following transfer to %s", target)
        t = self._new_transport("outbound")
        call = BotCall(self.endpoint, self.account, t)
        t.attach(call)
        self.loop.call_soon_threadsafe(self._spawn, t)
        return call

    # --- event loop --------------------------------------------------------------------------------
    def _new_transport(self, direction: str) -> SipCallTransport:
        s = self.settings
        t = SipCallTransport(self.endpoint, self.loop, direction, s.rtp_timeout_s, s.record_dir)
        t.on_end = self.transports.discard
        if self.follow_transfers:
            t.follow_transfer = self._follow_transfer
        return t

    def _track(self, t: SipCallTransport) -> None:
        """Count `t` as up until its dialog ends (event loop only; `t.on_end` forgets it)."""
        if not t.disconnected.is_set():
            self.transports.add(t)

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no call is up or ringing and every `on_call` returned; False if `timeout` passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.transports or self._tasks:
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    def _spawn(self, t: SipCallTransport) -> None:
        self._track(t)
        task = asyncio.ensure_future(self._serve_call(t))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_call(self, t: SipCallTransport) -> None:
        try:
            await t.wait_ready(ANSWER_TIMEOUT_S if t.direction == "inbound" else RING_TIMEOUT_S)
            if self.on_call is not None:
                await self.on_call(t)
        except CallFailed as e:
            log.info("call from %s did not start: %s", t.remote_uri or "?", e)
        except Exception:
            log_exception(log, "on_call failed for %s", t.remote_uri or "?")
        finally:
            if not t.disconnected.is_set():
                await t.hangup()
