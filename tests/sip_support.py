"""Shared pieces of the SIP tests: test signals, the per-window correlation that judges audio, probing a SIP
port, and peers in their own processes (baresip, the built-in caller), always reaped."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import soxr

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 90.0) -> T:
    """Run one test scenario in a fresh event loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def voice_like(seconds: float, rate: int = 8000, seed: int = 1) -> np.ndarray:
    """Band-limited noise (300-3400 Hz) in syllable-like bursts: a sharp correlation peak, phone band."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / rate)
    spec[(f < 300) | (f > 3400)] = 0
    x = np.fft.irfft(spec, n)
    t = np.arange(n) / rate
    envelope = 0.35 + 0.65 * np.abs(np.sin(2 * np.pi * 2.3 * t + rng.uniform(0, np.pi)))
    x = x / np.abs(x).max() * envelope * 0.5
    return (x * 32767).astype(np.int16)


def to_rate(pcm: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    return soxr.resample(pcm.astype(np.float32), rate_in, rate_out).astype(np.float32)


def best_lag(ref: np.ndarray, got: np.ndarray) -> int:
    """Samples by which `got` is delayed relative to `ref` (FFT cross-correlation)."""
    n = 1 << int(np.ceil(np.log2(len(ref) + len(got))))
    xc = np.fft.irfft(np.fft.rfft(got, n) * np.conj(np.fft.rfft(ref, n)), n)
    lag = int(np.argmax(xc))
    return lag if lag < n - len(ref) else lag - n


def _aligned_corr(ref: np.ndarray, got: np.ndarray, at: int, slack: int, step: int) -> float:
    """Best correlation of `ref` with `got` placed at `at` +/- `slack` samples."""
    best = -1.0
    for d in range(-slack, slack + 1, step):
        s = at + d
        cut = max(0, -s)  # the stream may start a few ms into the reference: compare the overlap
        if len(ref) - cut < len(ref) // 2 or s + len(ref) > len(got):
            continue
        g = got[s + cut:s + len(ref)]
        if g.std() > 0:
            best = max(best, float(np.corrcoef(ref[cut:], g)[0, 1]))
    return best


def window_correlations(ref: np.ndarray, got: np.ndarray, rate: int, window_s: float = 1.0,
                        slack_s: float = 0.08) -> list[float]:
    """How well each `window_s` of `ref` came through in `got`: the median correlation of its five
    sub-windows, each aligned on its own within `slack_s` of the overall delay.

    A jitter buffer that drops or inserts a 10 ms frame shifts the rest of the stream: a whole-file score
    then collapses although every stretch of audio is right, and a window holding the slip loses half
    its score. The median over sub-windows still fails a window that is mostly wrong or silent.
    """
    ref = ref.astype(np.float64)
    got = got.astype(np.float64)
    lag = best_lag(ref, got)
    win, sub = int(window_s * rate), int(window_s * rate) // 5
    slack, step = int(slack_s * rate), max(1, rate // 8000)
    out = []
    for start in range(0, len(ref) - win + 1, win):
        if np.sqrt(np.mean(ref[start:start + win] ** 2)) < 50:  # silent stretch: nothing to compare
            continue
        subs = [_aligned_corr(ref[s:s + sub], got, s + lag, slack, step)
                for s in range(start, start + win, sub)]
        out.append(float(np.median(subs)))
    return out


# --- probing a SIP port --------------------------------------------------------------------------------


def _request(method: str, host: str, port: int, me: int, tag: str, body: str = "", to: str = "",
             cseq: int = 1, branch: str = "") -> bytes:
    extra = f"Contact: <sip:probe@{host}:{me}>\r\nContent-Type: application/sdp\r\n" if body else ""
    return (f"{method} sip:bot@{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {host}:{me};branch=z9hG4bK{branch or tag}\r\n"
            f"From: <sip:probe@{host}:{me}>;tag={tag}\r\n{to or f'To: <sip:bot@{host}:{port}>'}\r\n"
            f"Call-ID: {tag}@{host}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n{body}").encode()


def sip_request(port: int, method: str = "OPTIONS", host: str = "127.0.0.1", timeout: float = 0.5) -> str | None:
    """Send one OPTIONS, or an INVITE offering PCMU that is expected to be refused (a final answer of 300 or
    more gets its ACK); the status line of the final answer, or None if none came within `timeout`."""
    body = (f"v=0\r\no=probe 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
            "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n") if method == "INVITE" else ""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        s.settimeout(timeout)
        me, tag = s.getsockname()[1], uuid.uuid4().hex[:10]
        s.sendto(_request(method, host, port, me, tag, body), (host, port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply = s.recv(65535).decode(errors="replace")
                status = int(reply.split(" ", 2)[1])
            except (TimeoutError, ConnectionRefusedError, IndexError, ValueError):
                return None
            if status >= 200:
                to = next((h for h in reply.split("\r\n") if h.lower().startswith(("to:", "t:"))), "")
                if method == "INVITE" and status >= 300:
                    s.sendto(_request("ACK", host, port, me, tag, to=to), (host, port))
                return reply.split("\r\n", 1)[0]
    return None


def sip_options(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> int | None:
    """Send one OPTIONS; the final status code, or None if nothing answered within `timeout`."""
    line = sip_request(port, "OPTIONS", host, timeout)
    return int(line.split(" ", 2)[1]) if line else None


async def wait_answering(port: int, host: str = "127.0.0.1", timeout: float = 20.0) -> None:
    """Poll with OPTIONS until something answers on `port` (a process starting its SIP stack)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await loop.run_in_executor(None, sip_options, port, host, 0.2) is None:
        if loop.time() > deadline:
            raise TimeoutError(f"nothing answers SIP on {host}:{port} after {timeout:.0f} s")
        await asyncio.sleep(0.05)


async def reap(*procs: object) -> None:
    """Kill the given asyncio subprocesses (or objects with a .proc) that are still running."""
    for p in procs:
        proc = getattr(p, "proc", p)
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()


async def stop_processes(procs: list[asyncio.subprocess.Process], timeout: float = 15.0) -> None:
    """SIGTERM, then kill whatever has not exited after `timeout`."""
    for p in procs:
        if p.returncode is None:
            p.terminate()
    try:
        await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), timeout)
    finally:
        await reap(*procs)


# --- peers in their own processes ---------------------------------------------------------------------

BARESIP_CONFIG = """poll_method epoll
sip_listen 127.0.0.1:0
net_interface 127.0.0.1
audio_player aufile,/dev/null
audio_source aufile,{play}
audio_alert aufile,/dev/null
module_path /usr/lib/baresip/modules
module g711.so
module g722.so
module aufile.so
module sndfile.so
module account.so
module menu.so
snd_path {rec}
"""


async def run_baresip(workdir: Path, uri: str, play: Path, codec: str, seconds: float,
                      user: str = "baresip") -> tuple[Path | None, str]:
    """Call `uri` as `user` with baresip playing `play` (16-bit WAV at the codec's rate) for at most
    `seconds`; return the WAV of what it heard (None if it recorded nothing) and its output."""
    rec = workdir / "rec"
    rec.mkdir(parents=True, exist_ok=True)
    (workdir / "config").write_text(BARESIP_CONFIG.format(play=play, rec=rec))
    name = {"G722": "G722/16000/1"}.get(codec, codec)  # baresip assumes 8000 Hz unless told
    (workdir / "accounts").write_text(f"<sip:{user}@127.0.0.1>;regint=0;audio_codecs={name}\n")
    proc = await asyncio.create_subprocess_exec(
        "baresip", "-f", str(workdir), "-e", f"/dial {uri}", "-t", str(int(seconds)),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), seconds + 15)
    finally:
        await reap(proc)
    dumps = sorted(rec.glob("dump-*-dec.wav"))
    return (dumps[-1] if dumps else None), out.decode(errors="replace")


class CallerProcess:
    """`python -m telephony.caller` in its own process (its own pjsua2 endpoint).

    `async with CallerProcess(...) as caller:` starts it (`caller.uri` is set with --listen) and kills it
    on the way out if it still runs."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None
        self.uri: str | None = None

    async def start(self) -> str | None:
        """Start it; with --listen, return the URI it listens on."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "telephony.caller", *self.args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        if "--listen" not in self.args:
            return None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 15)
        assert line.startswith(b"LISTENING "), line
        self.uri = line.split()[1].decode()
        return self.uri

    async def result(self, timeout: float = 60) -> dict:
        """Wait for it to finish; its last stdout line is the JSON summary."""
        try:
            out, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        finally:
            await reap(self)  # timed out or cancelled: never leave a caller process behind
        assert self.proc.returncode == 0, err.decode(errors="replace")[-3000:]
        return json.loads(out.decode().strip().splitlines()[-1])

    async def __aenter__(self) -> CallerProcess:
        try:
            await self.start()
        except BaseException:
            await reap(self)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await reap(self)
