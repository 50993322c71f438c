"""How many simultaneous calls the whole bot carries on this machine, measured on the wire.

    python benchmarks/sip_capacity.py [--configs 1x1,1x2,1x3,1x4,2x8] [--fixture call_order_check_1024]

A config WxN is `voicebot serve` with W workers (W > 1: Kamailio in front) and N simultaneous sipp calls,
all replaying the same multi-turn fixture as PCMU, started within one second (their turns end together:
the worst case for Whisper). dumpcap records what every caller receives. Per config:
  - answered calls; voice-to-voice latency on the wire over all caller turns (p50/p95, as in
    sip_voice_latency.py: end of the caller's speech in the RTP sent -> first bot audio in the RTP back);
  - underrun: bot packets that reached the caller > 40 ms later than their RTP timestamp says (against the
    earliest transit of that stream), calls affected, and the largest inter-arrival gap;
  - CPU of all the bot's processes (serve, workers, Kamailio) while the calls run, minus the same processes
    idle just before (cores on average, and CPU seconds per call), and their peak resident memory.
Each bot first takes one call per worker, so one-time allocations do not count as a per-call cost.
A config passes with every call answered, no late frame and p95 < 1.5 s. CPU and memory per extra call are
the slopes over the 1-worker configs. The 2 cores may be shared with other work: the load is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bot_sip_support import (  # noqa: E402 - the shared test code lives under tests/
    FIXTURES,
    BotProcess,
    Capture,
    fixture,
    free_port_block,
    read_udp,
    rtp_streams,
    talk_scenario,
)
from sip_voice_latency import late_frames, pct, wire_turns, work_dir  # noqa: E402

from telephony import sipp  # noqa: E402

LATE_S = 0.04
P95_LIMIT_MS = 1500.0


def usage(bot: BotProcess) -> tuple[float, int]:
    """CPU seconds (user + system) and resident bytes of the bot and everything it started."""
    cpu, rss = 0.0, 0
    for p in bot.processes():
        try:
            t = p.cpu_times()
            cpu += t.user + t.system
            rss += p.memory_info().rss
        except Exception:  # a process that just exited
            continue
    return cpu, rss


class PeakMemory(threading.Thread):
    def __init__(self, bot: BotProcess) -> None:
        super().__init__(daemon=True)
        self.bot, self.peak, self.done = bot, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.peak = max(self.peak, usage(self.bot)[1])


def run_config(bot: BotProcess, work: Path, calls: int, name: str) -> dict:
    pcm, meta = fixture(name)
    pcap = work / "talk.pcap"
    sipp.write_rtp_pcap(pcap, pcm, "PCMU")
    hold_ms = int(meta["duration_s"] * 1000) + 6000
    cpu0, rss0 = usage(bot)
    time.sleep(3.0)
    cpu_idle = (usage(bot)[0] - cpu0) / 3.0
    media = free_port_block(calls)
    ports = [media + 4 * i for i in range(calls)]
    wire = work / f"{bot.workers}x{calls}.pcap"
    peak = PeakMemory(bot)
    peak.start()
    cpu1, t1 = usage(bot)[0], time.monotonic()
    with Capture(wire, f"udp portrange {media}-{media + 4 * calls} or udp port {bot.port}"):
        res = asyncio.run(sipp.run_sipp(
            f"127.0.0.1:{bot.port}", talk_scenario(pcap, hold_ms, proxy=bot.workers > 1), calls=calls,
            limit=calls, rate=calls, timeout_s=hold_ms / 1000 + 30, user=meta["caller_id"] or "sipp",
            extra=("-mp", str(media))))
    wall = time.monotonic() - t1
    cores = (usage(bot)[0] - cpu1) / wall - cpu_idle
    peak.done.set()
    peak.join()
    streams = rtp_streams(read_udp(wire))
    turns, late, affected, gaps, answered = [], 0, 0, [], 0
    for port in ports:
        sent = [p for (s, _), v in streams.items() if s == port for p in v]
        heard = [p for (_, d), v in streams.items() if d == port for p in v]
        answered += bool(heard)
        turns += wire_turns(name, meta, sent, heard)
        n_late, gap = late_frames(heard, LATE_S)
        late, affected, gaps = late + n_late, affected + bool(n_late), gaps + [gap]
    lat = [t.latency_ms for t in turns if t.latency_ms is not None and not t.overlapped]
    return {"config": f"{bot.workers}x{calls}", "calls": calls, "answered": answered, "sipp_ok": res.ok,
            "turns": len(lat), "unanswered": sum(t.latency_ms is None for t in turns),
            "p50": pct(lat, 50), "p95": pct(lat, 95), "late": late, "affected": affected,
            "max_gap": max(gaps, default=0.0), "cores": cores, "cpu_s_call": cores * wall / calls,
            "rss_mb": peak.peak / 2**20, "idle_rss_mb": rss0 / 2**20}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="1x1,1x2,1x3,1x4,2x8", help="WORKERSxCALLS, comma-separated")
    ap.add_argument("--fixture", default="call_order_check_1024")
    ap.add_argument("--keep", help="keep the captures here")
    args = ap.parse_args(argv)
    try:
        args.config_list = [tuple(int(x) for x in c.split("x")) for c in args.configs.split(",") if c]
    except ValueError:
        ap.error(f"--configs {args.configs!r}: expected WORKERSxCALLS[,...], e.g. 1x4,2x8")
    if not (FIXTURES / f"{args.fixture}.wav").is_file():
        ap.error(f"--fixture {args.fixture!r}: no such fixture in {FIXTURES}")
    if not args.config_list or any(len(c) != 2 or min(c) < 1 or c[1] > 4 * c[0] for c in args.config_list):
        ap.error(f"--configs {args.configs!r}: WORKERSxCALLS with 1 <= CALLS <= 4 x WORKERS (4 calls per worker)")
    with work_dir(args.keep, "sip-capacity-") as work:
        return measure(args, work)


def measure(args: argparse.Namespace, work: Path) -> int:
    rows = []
    configs = args.config_list
    for workers in sorted({w for w, _ in configs}):
        with BotProcess(work / f"bot{workers}", workers=workers) as bot:
            # one call per worker first: one-time allocations (pools, buffers) are not a per-call cost
            run_config(bot, work, workers, "order_status_4567")
            for _, calls in [c for c in configs if c[0] == workers]:
                load = os.getloadavg()[0]
                row = run_config(bot, work, calls, args.fixture)
                row["load"] = load
                rows.append(row)
                print(f"{row['config']}: done (load average before {load:.2f})", flush=True)
    print(f"\nfixture {args.fixture}; all calls start within 1 s; 2 cores shared with other work")
    head = ("config", "answered", "turns", "p50 ms", "p95 ms", "late>40ms", "calls hit", "max gap",
            "CPU cores", "CPU s/call", "peak RSS", "verdict")
    print(" ".join(f"{h:>10s}" for h in head))
    for r in rows:
        ok = r["answered"] == r["calls"] and r["late"] == 0 and r["p95"] < P95_LIMIT_MS and not r["unanswered"]
        cells = (r["config"], f"{r['answered']}/{r['calls']}", r["turns"], f"{r['p50']:.0f}", f"{r['p95']:.0f}",
                 r["late"], r["affected"], f"{r['max_gap']:.0f} ms", f"{r['cores']:.2f}", f"{r['cpu_s_call']:.1f}",
                 f"{r['rss_mb']:.0f} MB", "ok" if ok else "NO")
        print(" ".join(f"{c!s:>10s}" for c in cells))
    one = [r for r in rows if r["config"].startswith("1x")]
    if len(one) >= 2:
        n = np.array([r["calls"] for r in one], dtype=float)
        cpu = np.polyfit(n, [r["cores"] for r in one], 1)[0]
        mem = np.polyfit(n, [r["rss_mb"] for r in one], 1)[0]
        print(f"per extra call (1 worker, slope over {len(one)} configs): {cpu:.3f} cores, {mem:.1f} MB peak RSS; "
              f"the warm bot idle: {one[0]['idle_rss_mb']:.0f} MB RSS")
    print(f"captures in {work}" if args.keep else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
