"""Shared pieces of the whole-bot SIP tests and benchmarks: the bot as a process, the wire, the words.

- `BotProcess`: `voicebot serve` in its own process on a free port with its own CRM; ready once SIP answers
  OPTIONS (every worker, and Kamailio lists them up, with --workers); stopped with SIGTERM, and whatever
  it started is killed by pid if it lingers.
- the wire (`Capture`, `read_udp`, `rtp_streams`, `stream_pcm` ...) lives in `wire_capture.py`, re-exported here.
- `heard_words`: the real recognizer (Whisper tiny.en) on received audio, one speech stretch at a time.
- sipp pieces: a caller that talks and then hangs up unless the bot hung up first, and a pcap that
  carries RFC 2833 key presses inside the audio stream (one SSRC, one sequence, like a phone).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import psutil
import soundfile as sf
import soxr
from wire_capture import (  # noqa: F401 - re-exported for the tests and benchmarks
    DUMPCAP,
    SPEECH_RMS,
    Capture,
    Rtp,
    Udp,
    decode_g711,
    first_speech_after,
    frame_rms,
    read_udp,
    rtp_streams,
    sip_lines,
    stream_pcm,
)

from telephony import sipp
from telephony.sipp import free_port, ulaw_encode

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "audio_fixtures"
KAMCMD = shutil.which("kamcmd") or "/usr/sbin/kamcmd"


# --- fixtures ------------------------------------------------------------------------------------------


def fixture(name: str) -> tuple[np.ndarray, dict]:
    """A QA fixture as 8 kHz int16 samples (the WAV is µ-law) and its sidecar."""
    pcm, rate = sf.read(str(FIXTURES / f"{name}.wav"), dtype="int16")
    assert rate == 8000, f"{name}.wav: expected 8 kHz, got {rate}"
    return pcm, json.loads((FIXTURES / f"{name}.json").read_text())


def line_noise(seconds: float, seed: int = 7) -> np.ndarray:
    """-60 dBFS noise, like the fixtures' gaps: a live line, never digital zero."""
    return (np.random.default_rng(seed).standard_normal(int(seconds * 8000)) * 33).astype(np.int16)


# --- SIP probing ---------------------------------------------------------------------------------------


def sip_options(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> int | None:
    """Send one OPTIONS; the final status code, or None if nothing answered within `timeout`."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        s.settimeout(timeout)
        me, tag = s.getsockname()[1], uuid.uuid4().hex[:10]
        msg = (f"OPTIONS sip:{host}:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {host}:{me};branch=z9hG4bK{tag}\r\n"
               f"From: <sip:probe@{host}:{me}>;tag={tag}\r\nTo: <sip:{host}:{port}>\r\n"
               f"Call-ID: {tag}@{host}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
        s.sendto(msg.encode(), (host, port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status = int(s.recv(65535).split(b" ", 2)[1])
            except (TimeoutError, ConnectionRefusedError, IndexError, ValueError):
                return None
            if status >= 200:
                return status
    return None


class BotProcess:
    """`voicebot serve` (optionally `--workers N` behind Kamailio) on a free port with a temp SQLite CRM."""

    def __init__(self, workdir: Path, *, workers: int = 1, env: dict[str, str] | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir, self.workers, self.port = workdir, workers, free_port()
        self.crm_url = f"sqlite:///{workdir}/crm.db"
        # Workers inherit the environment: `serve --workers` does not pass --crm on (see the report).
        self.env = {**os.environ, "VOICEBOT_CRM_URL": self.crm_url, **(env or {})}
        self.log_path = workdir / "bot.log"
        self.proc: subprocess.Popen | None = None
        self.worker_ports: list[int] = []
        self.kamailio_rundir: str | None = None

    @property
    def uri(self) -> str:
        return f"sip:bot@127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> BotProcess:
        cmd = [sys.executable, "-m", "voicebot", "serve", "--port", str(self.port)]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
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
        states = {}
        for block in out.split("DEST:")[1:]:
            uri, flags = re.search(r"URI:\s*(\S+)", block), re.search(r"FLAGS:\s*(\S+)", block)
            load = re.search(r"DLGLOAD:\s*(\d+)", block)
            if uri:
                states[uri.group(1)] = (flags.group(1) if flags else "", int(load.group(1)) if load else 0)
        return states

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


# --- what was heard ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def recognizer():  # noqa: ANN201 - asr.Recognizer, imported lazily (loading Whisper takes seconds)
    from asr import load_recognizer

    rec = load_recognizer()
    rec.warm_up()
    return rec


def speech_stretches(pcm: np.ndarray, rate: int, min_gap_s: float = 0.8) -> list[tuple[int, int]]:
    """(start, end) sample ranges where someone speaks: loud 20 ms frames, joined over short pauses."""
    n = rate // 50
    frames = pcm[: len(pcm) // n * n].astype(np.float64).reshape(-1, n)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > SPEECH_RMS)
    out: list[list[int]] = []
    for f in loud:
        if out and f - out[-1][1] <= min_gap_s * 50:
            out[-1][1] = f
        else:
            out.append([f, f])
    pad = rate // 5
    return [(max(0, a * n - pad), min(len(pcm), (b + 1) * n + pad)) for a, b in out if b - a >= 10]


def heard_words(pcm: np.ndarray, rate: int) -> str:
    """What Whisper hears in received audio, stretch by stretch (each stays inside one encoder window)."""
    texts = []
    for a, b in speech_stretches(pcm, rate):
        x = soxr.resample(pcm[a:b].astype(np.float32), rate, 16000) if rate != 16000 else pcm[a:b]
        texts.append(recognizer().transcribe(np.clip(x, -32768, 32767).astype(np.int16).tobytes()).text)
    return " ".join(texts).lower()


# --- sipp pieces ---------------------------------------------------------------------------------------


def talk_scenario(pcap: Path, hold_ms: int, proxy: bool = False, codec: str = "PCMU") -> str:
    """sipp calls, plays `pcap`, and hangs up after `hold_ms` unless the bot hung up first (then it answers
    the bot's BYE). `proxy`: through a record-routing proxy, the BYE follows the route set."""
    wait_bye = (f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
                f'  <recv request="BYE" timeout="{hold_ms}" ontimeout="hangup"/>\n'
                + sipp.OK_TO_LAST + '  <nop hide="true" next="done"/>\n  <label id="hangup"/>\n')
    ours = sipp.request("BYE", 9, routed=proxy) + '  <recv response="200"/>\n  <label id="done"/>\n'
    pt = {"PCMU": 0, "PCMA": 8}[codec]
    return sipp.uac([wait_bye, ours], sipp.sdp({pt: f"{codec}/8000"}), proxy=proxy)


def _pcap_frame(n: int, rtp: bytes) -> bytes:
    udp = struct.pack("!HHHH", 40000, 6000, 8 + len(rtp), 0) + rtp
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                     socket.inet_aton("10.0.0.1"), socket.inet_aton("10.0.0.2"))
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp


DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


def write_keys_pcap(path: Path, pcm8k: np.ndarray, keys: list[tuple[float, str]], ssrc: int = 0x5151) -> None:
    """One PCMU stream of `pcm8k` in which each (seconds, key) becomes an RFC 2833 event (pt 101): six
    tone packets (120 ms, growing duration) and three end packets, like a phone's keypad."""
    payload = ulaw_encode(pcm8k)
    starts = {round(at / 0.02): DTMF_EVENTS[k] for at, k in keys}
    records, seq, i, n = [], 0, 0, len(payload) // 160
    while i < n:
        if i in starts:
            event, ts = starts[i], i * 160
            for j in range(9):
                end, dur = j >= 6, min(j + 1, 6) * 160
                body = struct.pack("!BBH", event, (0x80 if end else 0) | 10, dur)
                records.append((i + j, struct.pack("!BBHII", 0x80, 101 | (0x80 if j == 0 else 0), seq, ts, ssrc)
                                + body))
                seq += 1
            i += 9
            continue
        rtp = struct.pack("!BBHII", 0x80, 0x80 if i == 0 else 0, seq, i * 160, ssrc) + payload[i * 160:i * 160 + 160]
        records.append((i, rtp))
        seq, i = seq + 1, i + 1
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for n_pkt, (tick, rtp) in enumerate(records):
        frame, usec = _pcap_frame(n_pkt, rtp), tick * 20000
        out.append(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame)) + frame)
    Path(path).write_bytes(b"".join(out))


async def reap(*procs: object) -> None:
    """Kill the given asyncio subprocesses (or CallerProcess objects) that are still running."""
    for p in procs:
        proc = getattr(p, "proc", p)
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()


def free_port_block(count: int, step: int = 4, low: int = 20000, high: int = 40000) -> int:
    """An even base port with `count` free UDP ports `step` apart: sipp's per-call media ports."""
    rng = np.random.default_rng()
    for _ in range(200):
        base = int(rng.integers(low // 2, (high - count * step) // 2)) * 2
        socks = []
        try:
            for i in range(count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + i * step))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no block of {count} free UDP ports found")
