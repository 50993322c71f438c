"""SIP benchmark: call set-up time and the CPU cost of the media path, on loopback.

    python benchmarks/sip_setup.py [--calls 40] [--seconds 10] [--max-parallel 4]

1. INVITE -> 200 OK: `--calls` calls one after the other at the server (stand-in responder, no
   engines), timed on the wire by a minimal UDP client (INVITE out -> 200 OK in, p50/p95).
2. Media path CPU: 1..4 simultaneous calls, each with G.711 RTP flowing both ways (sipp plays a pcap, the
   responder plays a tone) for `--seconds`; the server process's CPU time (all threads) is measured over a
   steady window and the idle cost (no calls) subtracted. That is pjsip's RTP/jitter buffer/codec/bridge
   work plus our per-frame Python (ctypes copy, playout pull, hand-off to asyncio, bus frame).
3. Per-frame cost of reading a MediaFrame: `bytes(frame.buf)` against the ctypes path we use.
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
from pathlib import Path

import numpy as np

from telephony import framebuf, sipp
from telephony.responder import Responder, tone
from telephony.server import SipServer
from telephony.settings import SipSettings


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


def setup_times(port: int, calls: int) -> list[float]:
    """INVITE -> 200 OK in ms, timed on the wire by a minimal UDP user agent (one call at a time).

    sipp's response-time trace has 1 ms resolution and reads 0 on loopback; this measures in us.
    """
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        me = s.getsockname()[1]
        for n in range(calls):
            sdp = SDP.format(rtp=sipp.free_port() & ~1)
            msg = INVITE.format(port=port, me=me, n=n, length=len(sdp), sdp=sdp).encode()
            t0 = time.perf_counter()
            s.sendto(msg, ("127.0.0.1", port))
            while True:
                data = s.recv(65535).decode(errors="replace")
                if data.startswith("SIP/2.0 200"):
                    out.append((time.perf_counter() - t0) * 1000)
                    break
            to = next(h for h in data.split("\r\n") if h.lower().startswith("to:"))
            target = f"sip:bot@127.0.0.1:{port}"
            for cseq, method in ((1, "ACK"), (2, "BYE")):
                s.sendto(IN_DIALOG.format(method=method, target=target, me=me, n=n, to=to,
                                          cseq=cseq).encode(), ("127.0.0.1", port))
            while not s.recv(65535).decode(errors="replace").startswith("SIP/2.0 200"):
                pass  # the BYE's 200
            time.sleep(0.05)
    return out


async def media_cpu(server: SipServer, responder: Responder, n: int, seconds: float, pcap: Path) -> float:
    """Server CPU% (of one core) while `n` calls carry audio both ways."""
    scenario = sipp.uac([sipp.play(pcap, int(seconds * 1000) + 1500)], sipp.sdp({8: "PCMA/8000"}))
    before = len(responder.calls)
    run = asyncio.ensure_future(sipp.run_sipp(f"127.0.0.1:{server.port}", scenario, calls=n, limit=n,
                                              rate=50, timeout_s=seconds + 20))
    while len(responder.calls) - before < n and not run.done():
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # jitter buffers settle
    t0, c0 = time.monotonic(), cpu_seconds()
    await asyncio.sleep(seconds - 1.0)
    used = (cpu_seconds() - c0) / (time.monotonic() - t0)
    res = await run
    if not res.ok:
        raise RuntimeError(f"sipp failed: {res.errors or res.out}")
    return 100 * used


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
    settings = SipSettings(port=0, rtp_timeout_s=30)
    async with SipServer(settings, responder) as server:
        loop = asyncio.get_running_loop()
        times = np.array(await loop.run_in_executor(None, setup_times, server.port, args.calls))
        print(f"INVITE->200 OK over {len(times)} calls: p50 {np.percentile(times, 50):.1f} ms, "
              f"p95 {np.percentile(times, 95):.1f} ms, max {times.max():.1f} ms")
        with tempfile.TemporaryDirectory() as tmp:
            pcap = Path(tmp) / "talk.pcap"
            t = np.arange(int(8000 * (args.seconds + 2))) / 8000
            sipp.write_rtp_pcap(pcap, (np.sin(2 * np.pi * 300 * t) * 8000).astype(np.int16), "PCMA")
            c0, t0 = cpu_seconds(), time.monotonic()
            await asyncio.sleep(3.0)
            idle = 100 * (cpu_seconds() - c0) / (time.monotonic() - t0)
            print(f"idle server: {idle:.1f}% CPU")
            for n in range(1, args.max_parallel + 1):
                total = await media_cpu(server, responder, n, args.seconds, pcap)
                print(f"{n} call(s), PCMA both ways: {total:.1f}% CPU total, "
                      f"{(total - idle) / n:.1f}% per call above idle")
                await asyncio.sleep(1.0)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--max-parallel", type=int, default=4)
    sys.exit(asyncio.run(main(ap.parse_args())))
