"""More than 4 calls: worker processes behind Kamailio's dispatcher (Debian `kamailio`).

The pjsua2 wheel serves at most 4 calls per process, so a site runs N worker processes (each a
`SipServer` on its own port) and one Kamailio in front that sends each INVITE to the least loaded worker
(dispatcher algorithm 10, `maxload=4` each), answers 503 itself when all are full, fails over on
486/503/408 and on dead workers (OPTIONS pings; pjsua answers them). Media stays direct, caller <-> worker.
Kamailio only learns a call ended from the BYE, hence `record_route()`. The workers see only the
proxy's address, so Kamailio checks the caller's network (403) and the workers allow the proxy.

    python -m telephony.dispatcher --port 5060 --workers 2 -- python -m telephony.responder --port {port}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import re
import shutil
import signal
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
KAMCMD = shutil.which("kamcmd") or "/usr/sbin/kamcmd"
MAX_LOAD = 4  # calls per worker: PJSUA_MAX_CALLS of the wheel

# Placeholders are @NAME@: Kamailio's own syntax uses $, {} and #! everywhere.
CONFIG = r"""#!KAMAILIO
debug=1
log_stderror=yes
children=2
auto_aliases=no
listen=udp:@HOST@:@PORT@
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"

loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "xlog.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "ctl.so"
loadmodule "dispatcher.so"
loadmodule "ipops.so"

modparam("ctl", "binrpc", "unix:@RUNDIR@/kamailio_ctl")
modparam("rr", "append_fromtag", 1)
modparam("tm", "fr_timer", 2000)
modparam("tm", "fr_inv_timer", 30000)
modparam("dispatcher", "list_file", "@RUNDIR@/dispatcher.list")
modparam("dispatcher", "ds_hash_size", 9)
modparam("dispatcher", "ds_ping_interval", 1)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 1)
modparam("dispatcher", "ds_inactive_threshold", 1)
modparam("dispatcher", "ds_ping_from", "sip:dispatcher@@HOST@")
modparam("dispatcher", "flags", 2)

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (has_totag()) {
        if (loose_route()) {
            if (is_method("BYE")) {
                ds_load_update();
            }
            t_relay();
            exit;
        }
        if (is_method("ACK") && t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if (t_precheck_trans()) {
        t_check_trans();
        exit;
    }
    t_check_trans();
    if (is_method("OPTIONS") && uri == myself) {
        sl_send_reply("200", "OK");
        exit;
    }
    if (!is_method("INVITE")) {
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }
    # the workers only see the proxy's address: the caller's network is checked here
    if (!is_in_subnet("$si", "@ALLOWED@")) {
        sl_send_reply("403", "Forbidden");
        exit;
    }
    record_route();
    if (!ds_select_dst("1", "10")) {
        sl_send_reply("503", "All Workers Busy");
        exit;
    }
    t_on_failure("NEXT_WORKER");
    t_relay();
    exit;
}

failure_route[NEXT_WORKER] {
    if (t_is_canceled()) {
        ds_load_unset();
        exit;
    }
    if (t_check_status("486|503|408|500")) {
        ds_load_unset();
        if (ds_next_dst()) {
            t_on_failure("NEXT_WORKER");
            t_relay();
            exit;
        }
        t_reply("503", "All Workers Busy");
        exit;
    }
    ds_load_unset();
}
"""


def render_config(host: str, port: int, rundir: Path, workers: list[tuple[str, int]],
                  allowed_networks: tuple[str, ...] = ("127.0.0.0/8",)) -> None:
    """Write kamailio.cfg and dispatcher.list into `rundir`."""
    for net in allowed_networks:
        ipaddress.ip_network(net, strict=False)  # ValueError names the bad CIDR before Kamailio sees it
    cfg = CONFIG.replace("@HOST@", host).replace("@PORT@", str(port)).replace("@RUNDIR@", str(rundir))
    cfg = cfg.replace("@ALLOWED@", ",".join(allowed_networks))
    (rundir / "kamailio.cfg").write_text(cfg)
    lines = [f"1 sip:{h}:{p} 0 0 duid=w{i};maxload={MAX_LOAD}" for i, (h, p) in enumerate(workers, 1)]
    (rundir / "dispatcher.list").write_text("\n".join(lines) + "\n")


class KamailioDispatcher:
    """Kamailio in the foreground, in its own scratch directory, stopped with the object."""

    def __init__(self, port: int, workers: list[tuple[str, int]], host: str = "127.0.0.1",
                 allowed_networks: tuple[str, ...] = ("127.0.0.0/8",)) -> None:
        self.host, self.port, self.workers = host, port, workers
        self.allowed_networks = allowed_networks
        self._tmp = tempfile.TemporaryDirectory(prefix="kamailio-")
        self.rundir = Path(self._tmp.name)
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 10.0) -> None:
        render_config(self.host, self.port, self.rundir, self.workers, self.allowed_networks)
        self.proc = await asyncio.create_subprocess_exec(
            KAMAILIO, "-f", str(self.rundir / "kamailio.cfg"), "-DD", "-E", "-Y", str(self.rundir),
            "-P", str(self.rundir / "kamailio.pid"), "-m", "64", "-M", "8",
            stdout=asyncio.subprocess.DEVNULL, stderr=(self.rundir / "kamailio.log").open("wb"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.proc.returncode is not None:
                raise RuntimeError(f"kamailio exited: {self.log_tail()}")
            if (self.rundir / "kamailio_ctl").exists() and await self._rpc("core.uptime"):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"kamailio did not start within {timeout:.0f} s: {self.log_tail()}")

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
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def loads(self) -> dict[str, tuple[str, int]]:
        """Per worker URI: (state flags: "AP" up, "IP"/"IX" down; its current number of calls)."""
        out = await self._rpc("dispatcher.list")
        result = {}
        for block in out.split("DEST:")[1:]:
            uri = re.search(r"URI:\s*(\S+)", block)
            flags = re.search(r"FLAGS:\s*(\S+)", block)
            load = re.search(r"DLGLOAD:\s*(\d+)", block)
            if uri:
                result[uri.group(1)] = (flags.group(1) if flags else "", int(load.group(1)) if load else 0)
        return result

    def log_tail(self, chars: int = 1500) -> str:
        p = self.rundir / "kamailio.log"
        return p.read_text(errors="replace")[-chars:] if p.exists() else ""

    async def _rpc(self, *cmd: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            KAMCMD, "-s", f"unix:{self.rundir}/kamailio_ctl", *cmd,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        out, _ = await asyncio.wait_for(proc.communicate(), 5)
        return out.decode(errors="replace") if proc.returncode == 0 else ""


async def run_site(port: int, n_workers: int, worker_cmd: list[str], host: str = "127.0.0.1",
                   first_worker_port: int = 0, allowed_networks: tuple[str, ...] = ("127.0.0.0/8",)) -> None:
    """Kamailio on `port` plus `n_workers` copies of `worker_cmd` ("{port}" replaced), until a signal."""
    from telephony.sipp import free_port

    ports = [first_worker_port + i if first_worker_port else free_port(host) for i in range(n_workers)]
    workers = [await asyncio.create_subprocess_exec(*[a.replace("{port}", str(p)) for a in worker_cmd])
               for p in ports]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with KamailioDispatcher(port, [(host, p) for p in ports], host, allowed_networks) as kam:
            log.info("dispatching sip:%s:%d to workers on ports %s", host, port, ports)
            waiters = [asyncio.ensure_future(w.wait()) for w in workers]
            await asyncio.wait([asyncio.ensure_future(stop.wait()), *waiters], return_when=asyncio.FIRST_COMPLETED)
            if any(w.returncode is not None for w in workers):
                log.error("a worker exited; stopping the site. kamailio log: %s", kam.log_tail(500))
    finally:
        for w in workers:
            if w.returncode is None:
                w.send_signal(signal.SIGTERM)
        for w in workers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(w.wait(), 15)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m telephony.dispatcher", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5060, help="the public SIP port (Kamailio)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--first-worker-port", type=int, default=0, help="0 = any free ports")
    ap.add_argument("--allow", default="127.0.0.0/8", help="comma-separated CIDRs allowed to call")
    ap.add_argument("worker_cmd", nargs=argparse.REMAINDER, help="-- command for one worker, with {port}")
    args = ap.parse_args(argv)
    cmd = args.worker_cmd[1:] if args.worker_cmd[:1] == ["--"] else args.worker_cmd
    if not cmd or not any("{port}" in a for a in cmd):
        ap.error("give the worker command after --, with {port} where its SIP port goes")
    if args.workers < 1:
        ap.error("--workers must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        allowed = tuple(args.allow.split(","))
        asyncio.run(run_site(args.port, args.workers, cmd, args.host, args.first_worker_port, allowed))
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}".splitlines()[0], file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
