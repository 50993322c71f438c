"""More than 4 calls: worker processes behind Kamailio's dispatcher (Debian `kamailio`).

The pjsua2 wheel serves at most 4 calls per process, so a site runs N worker processes (each a
`SipServer` on its own port) and one Kamailio in front that sends each INVITE to the least loaded worker
(dispatcher algorithm 10, `maxload=4` each), answers 503 itself when all are full, fails over on
486/503/408 and on dead workers (OPTIONS pings; pjsua answers them). Media stays direct, caller <-> worker.
Kamailio only learns a call ended from the BYE, hence `record_route()`. The workers see only the
proxy's address, so Kamailio checks the caller's network (403) and the workers allow only the proxy.

Addresses: Kamailio listens on the site's `bind` (UDP only); each worker binds the same address (media
sockets included, so callers reach its RTP) and allows only the proxy. With bind 0.0.0.0 the proxy
forwards to the workers over 127.0.0.1 and advertises `public_address` in its Record-Route.

    python -m telephony.dispatcher --port 5060 --workers 2 -- python -m telephony.responder
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import ipaddress
import logging
import re
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

from telephony.settings import PJSUA_MAX_CALLS, SipConfigError, SipSettings, SipStartError

log = logging.getLogger(__name__)

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
KAMCMD = shutil.which("kamcmd") or "/usr/sbin/kamcmd"
CONFIG = Path(__file__).with_name("kamailio.cfg")
MODULE_DIRS = ("/usr/lib/*/kamailio/modules", "/usr/lib64/kamailio/modules", "/usr/lib/kamailio/modules",
               "/usr/local/lib*/kamailio/modules")
ANY = "0.0.0.0"
STOP_WAIT_S = 15.0  # a worker hangs up its calls on SIGTERM; past this it is killed


# --- configuration -------------------------------------------------------------------------------------


def module_dir() -> str:
    """Where this machine's Kamailio modules are (the path differs per architecture)."""
    for pattern in MODULE_DIRS:
        for d in sorted(glob.glob(pattern)):
            if Path(d, "dispatcher.so").is_file():
                return d
    raise SipStartError("kamailio modules not found (Debian package kamailio): no dispatcher.so in "
                        + ", ".join(MODULE_DIRS))


def worker_host(bind: str) -> str:
    """Where the proxy reaches the workers of a site bound to `bind`."""
    return "127.0.0.1" if bind == ANY else bind


def worker_args(bind: str) -> list[str]:
    """The arguments that place one worker of a site on `bind`: its address, its port ("{port}", filled in
    per worker) and the only caller it accepts, the proxy. For `voicebot serve` and the responder alike."""
    return ["--bind", bind, "--port", "{port}", "--allow", f"{worker_host(bind)}/32"]


def check_site(sip: SipSettings, workers: int) -> None:
    """SipConfigError (one line) when a site of `workers` workers cannot work with these settings."""
    if workers < 1:
        raise SipConfigError(f"workers: {workers} must be at least 1")
    if sip.transport != "udp":
        raise SipConfigError(f"transport: {sip.transport!r} with --workers: the dispatcher (Kamailio) listens "
                             "on UDP only; use transport udp or one process")
    if sip.bind == ANY and not sip.public_address:
        raise SipConfigError("public_address: required with bind 0.0.0.0 and --workers (what callers reach "
                             "the proxy at)")


def render_config(host: str, port: int, rundir: Path, workers: list[tuple[str, int]],
                  allowed_networks: tuple[str, ...] = ("127.0.0.0/8",), public_address: str | None = None) -> None:
    """Write kamailio.cfg and dispatcher.list into `rundir`."""
    for net in allowed_networks:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:  # before Kamailio sees it
            raise SipConfigError(f"allowed_networks: {net!r} is not a CIDR network") from None
    advertise = f" advertise {public_address}:{port}" if public_address else ""
    values = {"HOST": host, "PORT": str(port), "ADVERTISE": advertise, "RUNDIR": str(rundir),
              "MPATH": module_dir(), "PING_HOST": public_address or worker_host(host),
              "ALLOWED": ",".join(allowed_networks)}
    cfg = re.sub(r"@([A-Z_]+)@", lambda m: values[m.group(1)], CONFIG.read_text())
    (rundir / "kamailio.cfg").write_text(cfg)
    lines = [f"1 sip:{h}:{p} 0 0 duid=w{i};maxload={PJSUA_MAX_CALLS}" for i, (h, p) in enumerate(workers, 1)]
    (rundir / "dispatcher.list").write_text("\n".join(lines) + "\n")


def parse_dispatcher_list(text: str) -> dict[str, tuple[str, int]]:
    """`kamcmd dispatcher.list` output -> per worker URI: (state flags: "AP" up, "IP"/"IX" down; calls up)."""
    result = {}
    for block in text.split("DEST:")[1:]:
        uri = re.search(r"URI:\s*(\S+)", block)
        flags = re.search(r"FLAGS:\s*(\S+)", block)
        load = re.search(r"DLGLOAD:\s*(\d+)", block)
        if uri:
            result[uri.group(1)] = (flags.group(1) if flags else "", int(load.group(1)) if load else 0)
    return result


# --- Kamailio ------------------------------------------------------------------------------------------


class KamailioDispatcher:
    """Kamailio in the foreground, in its own scratch directory, stopped with the object."""

    def __init__(self, port: int, workers: list[tuple[str, int]], host: str = "127.0.0.1",
                 allowed_networks: tuple[str, ...] = ("127.0.0.0/8",), public_address: str | None = None) -> None:
        self.host, self.port, self.workers = host, port, workers
        self.allowed_networks, self.public_address = allowed_networks, public_address
        self._tmp = tempfile.TemporaryDirectory(prefix="kamailio-")
        self.rundir = Path(self._tmp.name)
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 10.0) -> None:
        render_config(self.host, self.port, self.rundir, self.workers, self.allowed_networks, self.public_address)
        self.proc = await asyncio.create_subprocess_exec(
            KAMAILIO, "-f", str(self.rundir / "kamailio.cfg"), "-DD", "-E", "-Y", str(self.rundir),
            "-P", str(self.rundir / "kamailio.pid"), "-m", "64", "-M", "8",
            stdout=asyncio.subprocess.DEVNULL, stderr=(self.rundir / "kamailio.log").open("wb"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.proc.returncode is not None:
                raise SipStartError(f"kamailio exited: {self.log_tail(300)}")
            if (self.rundir / "kamailio_ctl").exists() and await self._rpc("core.uptime"):
                return
            await asyncio.sleep(0.1)
        await self.stop()
        raise SipStartError(f"kamailio did not start within {timeout:.0f} s")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._tmp.cleanup()

    async def __aenter__(self) -> KamailioDispatcher:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def loads(self) -> dict[str, tuple[str, int]]:
        """Per worker URI: (state flags: "AP" up, "IP"/"IX" down; its current number of calls)."""
        return parse_dispatcher_list(await self._rpc("dispatcher.list"))

    def log_tail(self, chars: int = 1500) -> str:
        p = self.rundir / "kamailio.log"
        return p.read_text(errors="replace")[-chars:] if p.exists() else ""

    async def _rpc(self, *cmd: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            KAMCMD, "-s", f"unix:{self.rundir}/kamailio_ctl", *cmd,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 5)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return out.decode(errors="replace") if proc.returncode == 0 else ""


# --- a site: workers + proxy ---------------------------------------------------------------------------


class Site:
    """`n_workers` copies of `worker_cmd` ("{port}" replaced) on `host`, Kamailio on `port` in front.

    `async with Site(...) as site: await site.wait(stop)` runs until `stop` is set, or raises SipStartError
    when a worker exits by itself. Leaving stops the workers (SIGTERM; killed after STOP_WAIT_S), then Kamailio.
    """

    def __init__(self, port: int, n_workers: int, worker_cmd: list[str], host: str = "127.0.0.1",
                 first_worker_port: int = 0, allowed_networks: tuple[str, ...] = ("127.0.0.0/8",),
                 public_address: str | None = None) -> None:
        from telephony.sipp import free_port

        self.port, self.host = port, host
        self.worker_ports = [first_worker_port + i if first_worker_port else free_port(host)
                             for i in range(n_workers)]
        self.worker_cmd, self.allowed_networks, self.public_address = worker_cmd, allowed_networks, public_address
        self.workers: list[asyncio.subprocess.Process] = []
        self.kam: KamailioDispatcher | None = None

    async def __aenter__(self) -> Site:
        try:
            for p in self.worker_ports:
                self.workers.append(await asyncio.create_subprocess_exec(
                    *[a.replace("{port}", str(p)) for a in self.worker_cmd]))
            dests = [(worker_host(self.host), p) for p in self.worker_ports]
            self.kam = KamailioDispatcher(self.port, dests, self.host, self.allowed_networks, self.public_address)
            await self.kam.start()
        except BaseException:
            await self.aclose()
            raise
        log.info("dispatching sip:%s:%d to workers on ports %s", self.host, self.port, self.worker_ports)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def wait(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; SipStartError if a worker exits first (the site cannot carry its calls)."""
        stopped = asyncio.ensure_future(stop.wait())
        exits = [asyncio.ensure_future(w.wait()) for w in self.workers]
        try:
            await asyncio.wait([stopped, *exits], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for f in (stopped, *exits):
                f.cancel()
        for p, w in zip(self.worker_ports, self.workers, strict=True):
            if w.returncode is not None:
                tail = self.kam.log_tail(300) if self.kam else ""
                log.error("the worker on port %d exited; stopping the site. kamailio log: %s", p, tail)
                raise SipStartError(f"the worker on port {p} exited with status {w.returncode}")

    async def aclose(self) -> None:
        for w in self.workers:
            if w.returncode is None:
                w.send_signal(signal.SIGTERM)
        for w in self.workers:
            try:
                await asyncio.wait_for(w.wait(), STOP_WAIT_S)
            except TimeoutError:
                log.warning("worker %d did not stop within %.0f s: killed", w.pid, STOP_WAIT_S)
                w.kill()
                await w.wait()
        if self.kam is not None:
            await self.kam.stop()


async def run_site(port: int, n_workers: int, worker_cmd: list[str], host: str = "127.0.0.1",
                   first_worker_port: int = 0, allowed_networks: tuple[str, ...] = ("127.0.0.0/8",),
                   public_address: str | None = None, stop: asyncio.Event | None = None) -> None:
    """A `Site` until SIGINT/SIGTERM (or `stop`); SipStartError if a worker exits by itself."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM) if threading.current_thread() is threading.main_thread() else ()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Site(port, n_workers, worker_cmd, host, first_worker_port, allowed_networks,
                        public_address) as site:
            await site.wait(stop)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def serve_bot_site(sip: SipSettings, workers: int, *, config: str | None = None, verbose: bool = False,
                   crm: str | None = None) -> int:
    """`voicebot serve --workers N`: N whole bots (each `voicebot serve`) behind Kamailio on sip.bind:sip.port,
    until SIGINT/SIGTERM. Raises SipConfigError for settings a site cannot use, SipStartError if a worker dies."""
    check_site(sip, workers)
    program = [sys.executable, "-m", "voicebot", *(["--config", config] if config else []),
               *(["-v"] if verbose else []), "serve", *(["--crm", crm] if crm else [])]
    asyncio.run(run_site(sip.port, workers, program + worker_args(sip.bind), host=sip.bind,
                         allowed_networks=sip.allowed_networks, public_address=sip.public_address))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m telephony.dispatcher", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1", help="address of the proxy and the workers")
    ap.add_argument("--port", type=int, default=5060, help="the public SIP port (Kamailio)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--first-worker-port", type=int, default=0, help="0 = any free ports")
    ap.add_argument("--allow", default="127.0.0.0/8", help="comma-separated CIDRs allowed to call")
    ap.add_argument("--public-address", help="what callers reach the proxy at (required with --host 0.0.0.0)")
    ap.add_argument("worker_cmd", nargs=argparse.REMAINDER,
                    help="-- command for one worker; --bind, --port and --allow are added")
    args = ap.parse_args(argv)
    cmd = args.worker_cmd[1:] if args.worker_cmd[:1] == ["--"] else args.worker_cmd
    if not cmd:
        ap.error("give the worker command after --")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        allowed = tuple(args.allow.split(","))
        site = SipSettings(bind=args.host, port=args.port, allowed_networks=allowed,
                           public_address=args.public_address)
        check_site(site, args.workers)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_site(args.port, args.workers, cmd + worker_args(args.host), args.host,
                                 args.first_worker_port, allowed, args.public_address))
    except (SipConfigError, SipStartError) as e:
        print(f"error: {e}".splitlines()[0], file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
