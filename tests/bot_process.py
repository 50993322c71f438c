"""The whole bot as a process for the SIP tests and benchmarks, and what it left in its CRM.

`BotProcess`: `voicebot serve` (optionally `--workers N` behind Kamailio) on a free port with its own SQLite
CRM; ready once every process said it answers (engines loaded) and SIP answers OPTIONS (with --workers:
each worker, and Kamailio lists them all up); stopped with SIGTERM, and whatever it started is killed by
pid if it lingers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from sip_support import sip_options

from telephony.dispatcher import KAMCMD, parse_dispatcher_list
from telephony.sipp import free_port

READY_LINE = "voicebot answering on"  # voicebot/phone.py prints it once the engines are loaded


class BotProcess:
    """`voicebot serve` (optionally `--workers N` behind Kamailio) on a free port with a temp SQLite CRM."""

    def __init__(self, workdir: Path, *, workers: int = 1, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = ()) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir, self.workers, self.port = workdir, workers, free_port()
        self.crm_url = f"sqlite:///{workdir}/crm.db"
        self.env = {**os.environ, **(env or {})}
        self.args = args  # more `serve` options
        self.log_path = workdir / "bot.log"
        self.proc: subprocess.Popen | None = None
        self.worker_ports: list[int] = []
        self.kamailio_rundir: str | None = None

    @property
    def uri(self) -> str:
        return f"sip:bot@127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> BotProcess:
        cmd = [sys.executable, "-m", "voicebot", "serve", "--port", str(self.port), "--crm", self.crm_url,
               *self.args]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        # `serve` never fills an empty CRM (a production store): load the demo customers as an operator would
        subprocess.run([sys.executable, "-m", "voicebot", "crm", "load-demo", "--crm", self.crm_url],
                       check=True, capture_output=True, env=self.env, cwd=self.workdir, timeout=120)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"voicebot serve exited with {self.proc.returncode}: {self.log_tail()}")
            if self._ready():
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"voicebot serve not answering within {timeout:.0f} s: {self.log_tail()}")

    def _ready(self) -> bool:
        if self.log_tail(10**6).count(READY_LINE) < self.workers:
            return False
        if self.workers == 1:
            return sip_options(self.port) == 200
        try:
            cmds = [p.cmdline() for p in self.processes()[1:]]
        except psutil.NoSuchProcess:
            return False
        self.worker_ports = sorted(int(c[c.index("--port") + 1]) for c in cmds if "serve" in c and "--port" in c)
        rundirs = [c[c.index("-Y") + 1] for c in cmds if "-Y" in c]  # Kamailio's run dir holds its ctl socket
        self.kamailio_rundir = rundirs[0] if rundirs else None
        if len(self.worker_ports) < self.workers or not self.kamailio_rundir:
            return False
        if any(sip_options(p) != 200 for p in self.worker_ports):
            return False
        states = self.dispatcher_states()
        return len(states) == self.workers and all(flags.startswith("A") for flags, _ in states.values())

    def dispatcher_states(self) -> dict[str, tuple[str, int]]:
        """Kamailio's view, per worker URI: (flags, "AP" = up; current calls)."""
        if not self.kamailio_rundir:
            return {}
        out = subprocess.run([KAMCMD, "-s", f"unix:{self.kamailio_rundir}/kamailio_ctl", "dispatcher.list"],
                             capture_output=True, text=True, timeout=5).stdout
        return parse_dispatcher_list(out)

    def wait_loads(self, total: int, timeout: float = 15.0) -> dict[str, tuple[str, int]]:
        """Kamailio's view once its workers carry `total` calls together (or at `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.dispatcher_states()
            if sum(load for _, load in states.values()) == total or time.monotonic() > deadline:
                return states
            time.sleep(0.1)

    def processes(self) -> list[psutil.Process]:
        """The serve process and everything it started (workers, Kamailio)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self, timeout: float = 25.0) -> None:
        if self.proc is None:
            return
        tree = self.processes()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        _, alive = psutil.wait_procs(tree[1:], timeout=5)
        for p in alive:  # only what this bot started, by pid
            p.kill()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def __enter__(self) -> BotProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def crm_interactions(url: str, count: int = 1, timeout: float = 20.0) -> list:
    """The CRM's interactions once `count` of them are closed (the session closes each right after the BYE)."""
    from crm_store import CrmStore

    deadline = time.monotonic() + timeout
    store = CrmStore.open(url)
    try:
        while True:
            calls = store.interactions(limit=100)
            if sum(i.ended_at is not None for i in calls) >= count or time.monotonic() > deadline:
                return calls
            time.sleep(0.2)
    finally:
        store.close()
