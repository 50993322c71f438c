"""SIP benchmark: call set-up time and the CPU cost of the media path, on loopback.

    python benchmarks/sip_setup.py [--calls 40] [--seconds 10] [--max-parallel 4]

1. INVITE -> 200 OK: `--calls` calls one after the other at the server (stand-in responder, no
   engines), timed on the wire by a minimal UDP client (INVITE out -> 200 OK in, p50/p95).
2. Media path CPU: 1..4 simultaneous calls with audio both ways for `--seconds` (PCMA: sipp plays a
   pcap; G722: built-in pjsua2 callers play a WAV; the responder talks back); the server process's CPU
   time (all threads) is measured over a steady window and the idle cost (no calls) subtracted. That is
   pjsip's RTP/jitter buffer/codec/bridge work plus our per-frame Python (ctypes copy, playout pull,
   hand-off to asyncio, bus frame).
3. Per-frame cost of reading a MediaFrame: `bytes(frame.buf)` against the ctypes path we use.
4. Memory: RSS growth per call over batches of 150 short calls (it must fall to ~0 once pjsip's pools
   are warm; a steady growth is a leak).
The machine's 2 cores are shared with other work while this runs: read the numbers as indicative.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from telephony import framebuf, sipp
from telephony.responder import Responder, tone
from telephony.server import SipServer
from telephony.settings import SipSettings
from voicebot.pcm import write_wav


def rss_kb() -> int:
    """Resident memory now (not the peak), from /proc."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


INVITE = """INVITE sip:bot@127.0.0.1:{port} SIP/2.0\r
Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{n}x\r
From: <sip:bench@127.0.0.1:{me}>;tag=b{n}\r
To: <sip:bot@127.0.0.1:{port}>\r
Call-ID: bench-{n}@127.0.0.1\r
CSeq: 1 INVITE\r
Contact: <sip:bench@127.0.0.1:{me}>\r
Max-Forwards: 70\r
Content-Type: application/sdp\r
Content-Length: {length}\r
\r
{sdp}"""
SDP = "v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" \
      "m=audio {rtp} RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
IN_DIALOG = """{method} {target} SIP/2.0\r
Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{n}{method}\r
From: <sip:bench@127.0.0.1:{me}>;tag=b{n}\r
{to}\r
Call-ID: bench-{n}@127.0.0.1\r
CSeq: {cseq} {method}\r
Max-Forwards: 70\r
Content-Length: 0\r
\r
"""


def setup_times(port: int, calls: int, gap_s: float = 0.07) -> list[float]:
    """INVITE -> 200 OK in ms, timed on the wire by a minimal UDP user agent (one call at a time).

    sipp's response-time trace has 1 ms resolution and reads 0 on loopback; this measures in us.
    """
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        me = s.getsockname()[1]
        batch = uuid.uuid4().hex[:8]  # Call-IDs, tags and branches must be new in every run
        for i in range(calls):
            n = f"{batch}{i}"
            sdp = SDP.format(rtp=sipp.free_port() & ~1)
            msg = INVITE.format(port=port, me=me, n=n, length=len(sdp), sdp=sdp).encode()
            t0 = time.perf_counter()
            s.sendto(msg, ("127.0.0.1", port))
            data = _response(s, n, "1 INVITE")
            out.append((time.perf_counter() - t0) * 1000)
            to = next(h for h in data.split("\r\n") if h.lower().startswith("to:"))
            target = f"sip:bot@127.0.0.1:{port}"
            for cseq, method in ((1, "ACK"), (2, "BYE")):
                s.sendto(IN_DIALOG.format(method=method, target=target, me=me, n=n, to=to,
                                          cseq=cseq).encode(), ("127.0.0.1", port))
            _response(s, n, "2 BYE")
            time.sleep(gap_s)
    return out


def _response(s: socket.socket, n: str, cseq: str) -> str:
    """The 200 OK for request `cseq` of call `n`, skipping provisionals and retransmissions."""
    while True:
        data = s.recv(65535).decode(errors="replace")
        if f"bench-{n}@" not in data or f"CSeq: {cseq}" not in data:
            continue
        if data.startswith("SIP/2.0 200"):
            return data
        if data[8:9] in "3456":  # a final error: e.g. 503 when calling faster than max_call_rate
            raise RuntimeError(f"call {n}: {data.splitlines()[0]}")


async def _measure(seconds: float) -> float:
    """This process's CPU% (of one core) over the next `seconds`."""
    t0, c0 = time.monotonic(), cpu_seconds()
    await asyncio.sleep(seconds)
    return 100 * (cpu_seconds() - c0) / (time.monotonic() - t0)


async def media_cpu_pcma(server: SipServer, responder: Responder, n: int, seconds: float, pcap: Path) -> float:
    """Server CPU% while `n` sipp calls send PCMA RTP and the responder talks back."""
    scenario = sipp.uac([sipp.play(pcap, int(seconds * 1000) + 1500)], sipp.sdp({8: "PCMA/8000"}))
    before = len(responder.calls)
    run = asyncio.ensure_future(sipp.run_sipp(f"127.0.0.1:{server.port}", scenario, calls=n, limit=n,
                                              rate=50, timeout_s=seconds + 20))
    while len(responder.calls) - before < n and not run.done():
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # jitter buffers settle
    used = await _measure(seconds - 1.0)
    res = await run
    if not res.ok:
        raise RuntimeError(f"sipp failed: {res.errors or res.out}")
    return used


async def media_cpu_g722(server: SipServer, responder: Responder, n: int, seconds: float, wav: Path) -> float:
    """Server CPU% while `n` built-in caller processes (pjsua2, G.722 at 16 kHz) talk to it."""
    before = len(responder.calls)
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "telephony.caller", server.uri, "--play", str(wav), "--tail", "0.5",
        stdout=asyncio.subprocess.DEVNULL) for _ in range(n)]
    while len(responder.calls) - before < n:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    used = await _measure(seconds - 1.0)
    for p in procs:
        await asyncio.wait_for(p.wait(), seconds + 20)
    return used


def frame_read_cost(frames: int = 2000) -> tuple[float, float]:
    import pjsua2 as pj

    f = pj.MediaFrame()
    f.buf = pj.ByteVector(bytes(640))
    t = time.perf_counter()
    for _ in range(frames):
        bytes(f.buf)
    swig = (time.perf_counter() - t) / frames
    t = time.perf_counter()
    for _ in range(frames):
        framebuf.read(f.buf)
    fast = (time.perf_counter() - t) / frames
    return swig * 1e6, fast * 1e6


async def main(args: argparse.Namespace) -> None:
    print(f"SIP benchmark, loopback, {os.cpu_count()} CPUs shared with other work; load {os.getloadavg()}")
    swig_us, fast_us = frame_read_cost()
    print(f"frame read: bytes(frame.buf) {swig_us:.0f} us, ctypes {fast_us:.1f} us per 640-byte frame")
    responder = Responder(greeting=tone(seconds=args.seconds + 5, level=0.2))
    settings = SipSettings(port=0, rtp_timeout_s=30, max_call_rate=15)  # our client calls at ~13/s
    async with SipServer(settings, responder) as server:
        loop = asyncio.get_running_loop()
        times = np.array(await loop.run_in_executor(None, setup_times, server.port, args.calls))
        print(f"INVITE->200 OK over {len(times)} calls: p50 {np.percentile(times, 50):.1f} ms, "
              f"p95 {np.percentile(times, 95):.1f} ms, max {times.max():.1f} ms")
        growth = []
        for _ in range(args.mem_batches):  # leak check: growth per call must fall to ~0
            before = rss_kb()
            await loop.run_in_executor(None, setup_times, server.port, 150, 0.1)
            growth.append((rss_kb() - before) / 150)
        print("memory: RSS growth per call, batches of 150 calls: "
              + ", ".join(f"{g:.0f}" for g in growth) + " KB")
        with tempfile.TemporaryDirectory() as tmp:
            t = np.arange(int(8000 * (args.seconds + 2))) / 8000
            talk = (np.sin(2 * np.pi * 300 * t) * 8000).astype(np.int16)
            pcap, wav = Path(tmp) / "talk.pcap", Path(tmp) / "talk.wav"
            sipp.write_rtp_pcap(pcap, talk, "PCMA")
            write_wav(wav, talk.tobytes(), 8000)
            idle = await _measure(3.0)
            print(f"idle server: {idle:.1f}% CPU")
            for codec in args.codecs.split(","):
                for n in range(1, args.max_parallel + 1):
                    if codec == "PCMA":
                        total = await media_cpu_pcma(server, responder, n, args.seconds, pcap)
                    else:
                        total = await media_cpu_g722(server, responder, n, args.seconds, wav)
                    print(f"{n} call(s), {codec} both ways: {total:.1f}% CPU total, "
                          f"{(total - idle) / n:.1f}% per call above idle")
                    await asyncio.sleep(1.0)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--max-parallel", type=int, default=4)
    ap.add_argument("--mem-batches", type=int, default=4, help="batches of 150 short calls for the leak check")
    ap.add_argument("--codecs", default="PCMA,G722", help="PCMA (sipp peers) and/or G722 (pjsua2 callers)")
    sys.exit(asyncio.run(main(ap.parse_args())))
