"""The process's one pjsua2 Endpoint, owned by one thread.

pjsua2 is not safe to call from arbitrary threads (an unregistered thread aborts the process) and its
Python objects crash if the GC frees them in the wrong order. So a single thread, "pjsip", creates the
library (`threadCnt=0`, `mainThreadOnly=True`: every SIP and call callback runs on it), polls it with
`libHandleEvents`, runs every job other threads `submit()`, and tears it down in a fixed order. Only the
conference bridge's clock thread runs outside it (media port callbacks; see `call.MediaPort`).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import gc
import logging
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pjsua2 as pj

from telephony import framebuf
from telephony.pjlog import PjLogWriter, log_exception, quiet_stdout
from telephony.settings import PJSUA_MAX_CALLS, SipSettings, SipStartError

if TYPE_CHECKING:
    from telephony.call import BotCall

log = logging.getLogger(__name__)
T = TypeVar("T")

_TRANSPORT_TYPES = {
    "udp": pj.PJSIP_TRANSPORT_UDP,
    "tcp": pj.PJSIP_TRANSPORT_TCP,
    "tls": pj.PJSIP_TRANSPORT_TLS,
}
_POLL_MS = 10  # libHandleEvents timeout: bounds the latency of submitted jobs (SIP itself wakes it)
# The bridge's clock thread needs the GIL for ~50 us every 20 ms; with Python's default 5 ms switch
# interval, two busy Python threads (engines, the event loop) stretched its tick gaps to p99 60 ms (audio
# gaps on every call); 1 ms brought p99 to 25 ms, measured with the stand-in bot.
SWITCH_INTERVAL_S = 0.001
RESOLV_CONF = Path("/etc/resolv.conf")


class _Endpoint(pj.Endpoint):
    def __init__(self, on_rejected: Callable[[int, str, str], None]) -> None:
        super().__init__()
        self._on_rejected = on_rejected
        # (source "ip:port") -> account id for an incoming INVITE, or None for pjsua's own choice
        self.select_account: Callable[[str], int | None] | None = None

    def onSelectAccount(self, prm: pj.OnSelectAccountParam) -> None:  # noqa: N802
        # Runs before pjsua opens any media socket for the call: see admission.py.
        try:
            if self.select_account is not None and prm.rdata.info.startswith("Request msg INVITE"):
                chosen = self.select_account(prm.rdata.srcAddress)
                if chosen is not None:
                    prm.accountIndex = chosen
        except Exception:
            log_exception(log, "onSelectAccount")

    def onRejectedIncomingCall(self, prm: pj.OnRejectedIncomingCallParam) -> None:  # noqa: N802
        try:
            self._on_rejected(prm.statusCode, prm.reason, prm.remoteInfo)
        except Exception:
            log_exception(log, "onRejectedIncomingCall")


class SipEndpoint:
    """Starts pjsua2 on its own thread; `submit` runs a function there. One per process."""

    _instance_started = False

    def __init__(self, settings: SipSettings) -> None:
        self.settings = settings
        self.host = settings.bind
        self.port = 0  # the SIP port actually bound (settings.port may be 0)
        # (status, reason) of the latest calls pjsua refused by itself; bounded: scanners send thousands
        self.rejected: deque[tuple[int, str]] = deque(maxlen=100)
        self.live_calls: dict[int, BotCall] = {}  # call id -> its BotCall (pjsip thread)
        self.accounts: list[pj.Account] = []
        self._graveyard: list[Any] = []  # pjsua2 objects to free on the next loop turn, on this thread
        self._jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple, concurrent.futures.Future]] = (
            queue.SimpleQueue()
        )
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._start_error: BaseException | None = None
        self._closed = False  # set on the pjsip thread once it takes no more jobs
        self._thread: threading.Thread | None = None
        self.ep: _Endpoint | None = None
        self._writer: PjLogWriter | None = None

    # --- lifecycle -----------------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> None:
        if SipEndpoint._instance_started:
            raise SipStartError("a SIP endpoint already runs in this process (pjsua2 allows one)")
        SipEndpoint._instance_started = True
        if sys.getswitchinterval() > SWITCH_INTERVAL_S:
            sys.setswitchinterval(SWITCH_INTERVAL_S)  # process-wide: see SWITCH_INTERVAL_S
        self._thread = threading.Thread(target=self._main, name="pjsip", daemon=True)
        self._thread.start()
        atexit.register(self.stop)  # an interpreter exiting with the library up would crash in GC
        if not self._ready.wait(timeout):
            raise SipStartError(f"SIP stack did not start within {timeout:.0f} s")
        if self._start_error is not None:
            self._thread.join(5)
            atexit.unregister(self.stop)
            SipEndpoint._instance_started = False
            raise SipStartError(str(self._start_error)) from None

    def stop(self, timeout: float = 10.0) -> None:
        """Hang up every call, wait for them to end, free pjsua2 objects in order, destroy the library."""
        atexit.unregister(self.stop)
        if self._thread is None or not self._thread.is_alive():
            return
        self._stopping.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("pjsip thread did not stop within %.0f s", timeout)
        SipEndpoint._instance_started = False

    @property
    def running(self) -> bool:
        alive = self._thread is not None and self._thread.is_alive() and not self._closed
        return alive and self._ready.is_set() and not self._stopping.is_set() and self._start_error is None

    # --- running code on the pjsip thread ----------------------------------------------------------
    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        if threading.current_thread() is self._thread:
            _run_job(fn, args, fut)  # already on the pjsip thread: queueing would deadlock a waiter
        elif not self.running:
            fut.set_exception(RuntimeError("SIP endpoint is not running"))
        else:
            self._jobs.put((fn, args, fut))
            if self._closed:  # the loop ended between the check and the put: nobody will run it
                self._fail_pending("SIP endpoint stopped")
        return fut

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Await `fn(*args)` run on the pjsip thread."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def drop_later(self, obj: Any) -> None:
        """Keep `obj` alive until the current callback returned, then free it on the pjsip thread."""
        self._graveyard.append(obj)

    # --- the pjsip thread ----------------------------------------------------------------------------
    def _main(self) -> None:
        error = None
        try:
            self._create()
        except BaseException as e:  # noqa: BLE001 - reported to start()
            error = one_line(e)
        # Out of the except block: the traceback (whose frames hold pjsua2 objects) is gone, so the
        # endpoint is freed here, on this thread, and not later by another thread's GC (abort).
        if error is not None:
            self._start_error = error
            self._closed = True
            self._destroy()
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stopping.is_set():
                self.ep.libHandleEvents(_POLL_MS)
                self._drain_jobs()
                if self._graveyard:
                    self._graveyard.clear()
        except BaseException:
            log_exception(log, "pjsip event loop failed")
        finally:
            self._teardown()

    def _drain_jobs(self) -> None:
        while True:
            try:
                fn, args, fut = self._jobs.get_nowait()
            except queue.Empty:
                return
            _run_job(fn, args, fut)

    def _create(self) -> None:
        framebuf.check_layout()
        s = self.settings
        self.ep = _Endpoint(self._rejected)
        with quiet_stdout(s.log_level < 4):
            self.ep.libCreate()  # pjlib prints its start-up lines to stdout before our log config applies
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = PJSUA_MAX_CALLS
        cfg.uaConfig.userAgent = s.user_agent
        for server in nameservers():
            # pjsip's own resolver is asynchronous; without one it resolves a host name with the blocking
            # getaddrinfo on this thread, which stalls every call's signalling meanwhile
            cfg.uaConfig.nameserver.append(server)
        cfg.logConfig.level = s.log_level
        cfg.logConfig.consoleLevel = 0
        cfg.logConfig.msgLogging = 1 if s.log_level >= 5 else 0
        self._writer = PjLogWriter()
        cfg.logConfig.writer = self._writer
        # The bridge runs at the bus rate: G.711 is resampled once, by pjsip, at the call's edge.
        cfg.medConfig.clockRate = 16000
        cfg.medConfig.sndClockRate = 16000
        cfg.medConfig.audioFramePtime = 20
        cfg.medConfig.channelCount = 1
        cfg.medConfig.ecTailLen = 0  # no echo canceller: there is no local microphone
        cfg.medConfig.noVad = True  # keep sending RTP during our silence: NATs and peers expect it
        # Keep the (null) sound device, which clocks the bridge, open between calls: pjsip 2.15 frees
        # a call's conference slot on a bridge tick, so with the default 1 s auto-close, slots of calls
        # that ended while it was closed leaked until the bridge ran out of ports (PJ_ETOOMANY).
        cfg.medConfig.sndAutoCloseTime = -1
        self.ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = s.port
        tcfg.boundAddress = s.bind
        if s.public_address:
            tcfg.publicAddress = s.public_address
        if s.transport == "tls":
            tcfg.tlsConfig.certFile = s.tls_cert
            tcfg.tlsConfig.privKeyFile = s.tls_key
            if s.tls_ca:  # mutual TLS: both ends show a certificate the CA signed, or no handshake
                tcfg.tlsConfig.CaListFile = s.tls_ca
                tcfg.tlsConfig.verifyServer = tcfg.tlsConfig.verifyClient = True
                tcfg.tlsConfig.requireClientCert = True
        try:
            tid = self.ep.transportCreate(_TRANSPORT_TYPES[s.transport], tcfg)
        except pj.Error as e:
            raise SipStartError(f"cannot listen on {s.transport} {s.bind}:{s.port}: {e.reason}") from None
        local = self.ep.transportGetInfo(tid).localName
        self.port = int(local.rsplit(":", 1)[1])
        self.transport_id = tid
        self.ep.audDevManager().setNullDev()  # headless: the bridge is clocked without a sound card
        self._set_codecs(s.codecs)
        self.ep.libStart()
        log.info("SIP listening on %s %s:%d", s.transport, self.host, self.port)

    def _set_codecs(self, wanted: tuple[str, ...]) -> None:
        # Two pjsua2 peers would pick speex by default; allow only the phone codecs, in our order.
        for info in self.ep.codecEnum2():
            name = info.codecId.split("/", 1)[0]
            prio = 255 - wanted.index(name) if name in wanted else 0
            self.ep.codecSetPriority(info.codecId, prio)

    def _rejected(self, status: int, reason: str, remote: str) -> None:
        self.rejected.append((status, reason))
        log.info("pjsua rejected a call from %s: %d %s", remote, status, reason)

    def _teardown(self) -> None:
        ep = self.ep
        try:
            if self.live_calls:
                ep.hangupAllCalls()
                deadline = time.monotonic() + 2.0
                while self.live_calls and time.monotonic() < deadline:
                    ep.libHandleEvents(_POLL_MS)
                    self._drain_jobs()
            for call in list(self.live_calls.values()):
                call.release()  # its peer never confirmed the BYE: free its media anyway
            self.live_calls.clear()
            self._drain_jobs()
            self._graveyard.clear()
            for acc in self.accounts:
                try:
                    acc.shutdown()
                except pj.Error:
                    pass
            self.accounts.clear()
        except BaseException:
            log_exception(log, "SIP teardown")
        finally:
            self._closed = True
            self._fail_pending("SIP endpoint stopped")
            self._destroy()

    def _destroy(self) -> None:
        gc.collect()  # free any pjsua2 proxy left in a cycle now, while the library still exists
        if self.ep is not None:
            try:
                self.ep.libDestroy()
            except Exception:
                log_exception(log, "libDestroy")
            self.ep = None

    def _fail_pending(self, why: str) -> None:
        while True:
            try:
                _, _, fut = self._jobs.get_nowait()
            except queue.Empty:
                return
            if fut.set_running_or_notify_cancel():  # False: its waiter gave up already
                fut.set_exception(RuntimeError(why))


def nameservers(path: Path = RESOLV_CONF) -> list[str]:
    """The IPv4 name servers of the system's resolver configuration (none if it cannot be read)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver" and parts[1].count(".") == 3:
            out.append(parts[1])
    return out[:3]  # glibc's limit too


def _run_job(fn: Callable[..., Any], args: tuple, fut: concurrent.futures.Future) -> None:
    if not fut.set_running_or_notify_cancel():
        return
    try:
        fut.set_result(fn(*args))
    except BaseException as e:  # noqa: BLE001 - handed to the waiter
        log.debug("job %s failed: %r", getattr(fn, "__qualname__", fn), e)
        fut.set_exception(_detached(e))


def _detached(e: BaseException) -> BaseException:
    """`e` without its traceback and chained exceptions. Their frames can hold the last reference to a
    pjsua2 object (a pj.Call a failed job created): the waiter's thread would free it, and pjlib aborts
    when called from an unregistered thread."""
    e.__traceback__ = None
    e.__context__ = None
    e.__cause__ = None
    return e


def one_line(e: BaseException) -> SipStartError:
    """A fresh one-line error (no traceback: see `_detached`)."""
    if isinstance(e, pj.Error):
        text = f"{e.title}: {e.reason}"
    elif isinstance(e, SipStartError):
        text = str(e)
    else:
        text = f"{type(e).__name__}: {e}"
    return SipStartError(text.splitlines()[0] if text else type(e).__name__)
