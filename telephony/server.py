"""`SipServer`: answers SIP calls and places them, one `on_call` task per call in an asyncio loop.

    server = SipServer(SipSettings(port=5070), on_call=handle)   # handle(transport) -> Awaitable[None]
    server.serve()                                               # until SIGINT/SIGTERM or server.stop()

or inside a running loop: `async with SipServer(...) as server: t = await server.call("sip:...")`.
Incoming INVITEs: source outside `allowed_networks` -> 403; more than `max_call_rate` new calls a second
-> 503 (both decided before pjsua opens media sockets: see admission.py); `max_calls` busy -> 486 (pjsua
also answers 486 itself past its compiled limit of 4, and 488 when no codec matches); else 180, 200,
and `on_call` starts once the ACK arrived and audio flows.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable

import pjsua2 as pj

from telephony.account import BotAccount, account_uri, create_account, create_gate_account
from telephony.admission import ALLOW, InviteGate, source_ip
from telephony.call import BotCall
from telephony.call_transport import SipCallTransport
from telephony.dialog import CallFailed
from telephony.endpoint import SipEndpoint
from telephony.settings import SipSettings

log = logging.getLogger(__name__)

OnCall = Callable[[SipCallTransport], Awaitable[None]]
ANSWER_TIMEOUT_S = 10.0  # 200 OK sent, no ACK or no media by then: give up on the call


class SipServer:
    def __init__(
        self, settings: SipSettings, on_call: OnCall | None = None, *, follow_transfers: bool = False
    ) -> None:
        self.settings = settings
        self.on_call = on_call
        self.follow_transfers = follow_transfers  # a softphone follows REFER; the bot declines it
        self.endpoint = SipEndpoint(settings)
        self.account: BotAccount | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.transports: set[SipCallTransport] = set()  # calls up; touched on the event loop only
        self.rejected: list[tuple[int, str]] = []  # (status, source) of INVITEs we refused
        self.gate = InviteGate(settings, rate=settings.max_call_rate, burst=settings.max_call_rate)
        self.gate_account: BotAccount | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # one per call running on_call
        self._watchers: set[asyncio.Task[None]] = set()  # forget a transport once its dialog ended
        self._stop_requested: asyncio.Event | None = None
        self._closing = False  # read on the pjsip thread: refuse new INVITEs while shutting down

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        await self.loop.run_in_executor(None, self.endpoint.start)
        try:
            await self.endpoint.run(self._create_accounts)
        except BaseException:
            await self.loop.run_in_executor(None, self.endpoint.stop)
            raise

    def _create_accounts(self) -> None:  # pjsip thread
        self.account = create_account(self.endpoint, self._incoming)
        self.gate_account = create_gate_account(self.endpoint, self._refuse)
        self.endpoint.ep.select_account = self._select

    async def aclose(self) -> None:
        """Hang up every call, let their tasks finish (bounded), stop the SIP stack."""
        if not self.endpoint.running:
            return
        self._closing = True
        await asyncio.gather(*(t.hangup(wait_s=3.0) for t in list(self.transports)), return_exceptions=True)
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=5.0)
            for task in pending:
                task.cancel()
        for task in self._watchers:
            task.cancel()
        await asyncio.get_running_loop().run_in_executor(None, self.endpoint.stop)

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

        Raises ValueError for a malformed URI and CallFailed (with the SIP status) when the call is not
        answered. The caller runs the session on the returned transport.
        """
        t = self._new_transport("outbound")
        self._track(t)

        def dial() -> None:
            if self.endpoint.ep.utilVerifySipUri(uri) != 0:
                raise ValueError(f"not a valid SIP URI: {uri!r}")
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

        try:
            await self.endpoint.run(dial)
        except BaseException:
            self.transports.discard(t)
            raise
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
        verdict = self.gate.decide(source)
        if verdict != ALLOW:
            log.info("INVITE from %s: %s", source, verdict)
            return self.gate_account.getId()
        return self.account.getId()

    def _refuse(self, call_id: int, source: str) -> None:
        """An INVITE steered to the gate account: refuse it (no media was opened for it)."""
        code = 403 if not self.settings.allows(source_ip(source)) else 503
        self._reject(call_id, code, source, self.gate_account)

    def _incoming(self, call_id: int, source: str) -> None:
        ip = source_ip(source)
        if self._closing:
            self._reject(call_id, 503, source)
            return
        if not self.settings.allows(ip):
            self._reject(call_id, 403, source)
            return
        if len(self.endpoint.live_calls) >= self.settings.max_calls:
            self._reject(call_id, 486, source)
            return
        t = self._new_transport("inbound")
        call = BotCall(self.endpoint, self.account, t, call_id)
        t.attach(call)
        for code in (180, 200):
            prm = pj.CallOpParam()
            prm.statusCode = code
            call.answer(prm)
        self.loop.call_soon_threadsafe(self._spawn, t)

    def _reject(self, call_id: int, code: int, source: str, account: BotAccount | None = None) -> None:
        log.info("rejecting INVITE from %s with %d", source, code)
        self.rejected.append((code, source))
        call = BotCall(self.endpoint, account or self.account, None, call_id)
        prm = pj.CallOpParam()
        prm.statusCode = code
        if code == 503:
            prm.reason = "Service Unavailable (call rate limit)"
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
        if self.follow_transfers:
            t.follow_transfer = self._follow_transfer
        return t

    def _track(self, t: SipCallTransport) -> None:
        """Count `t` as up until its dialog ended (event loop only)."""
        self.transports.add(t)

        async def forget() -> None:
            await t.disconnected.wait()
            self.transports.discard(t)

        task = asyncio.ensure_future(forget())
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    def _spawn(self, t: SipCallTransport) -> None:
        self._track(t)
        task = asyncio.ensure_future(self._serve_call(t))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_call(self, t: SipCallTransport) -> None:
        try:
            await t.wait_ready(ANSWER_TIMEOUT_S)
            if self.on_call is not None:
                await self.on_call(t)
        except CallFailed as e:
            log.info("call from %s did not start: %s", t.remote_uri or "?", e)
        except Exception:
            log.exception("on_call failed for %s", t.remote_uri or "?")
        finally:
            if not t.disconnected.is_set():
                await t.hangup()
