"""Voice-to-voice latency of the whole bot over SIP, measured on the wire.

    python benchmarks/sip_voice_latency.py [--fixtures a,b,...] [--setup-calls 20] [--keep DIR]

`voicebot serve` runs in its own process (temp SQLite CRM). sipp calls it once per fixture and replays the
fixture as PCMU RTP; dumpcap records both RTP directions and the SIP on `lo`. Per caller turn:
  end of speech  = wire time of the RTP packet sipp sent carrying the sidecar's `end_s` sample;
  first bot audio = wire time of the first packet the bot sent after it that starts >= 3 loud frames.
Turns where the bot was still talking as the caller finished are counted apart (no clean onset).
INVITE -> 200 OK is read from the same kind of capture over `--setup-calls` short calls.
The bot's own figure (CRM `timings_ms.voice_to_voice`: its clock, before pjsip and the wire) is printed
next to it, with the stages it logs. One call at a time; the 2 cores may be shared: say how loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bot_sip_support import (  # noqa: E402 - the shared test code lives under tests/
    FIXTURES,
    SPEECH_RMS,
    BotProcess,
    Capture,
    Rtp,
    crm_interactions,
    first_speech_after,
    fixture,
    frame_rms,
    read_udp,
    rtp_streams,
    sip_lines,
    talk_scenario,
)

from telephony import sipp  # noqa: E402

# 24 caller turns: the multi-turn calls plus three one-question calls (no barge-in fixture: see above)
DEFAULT_FIXTURES = ("call_order_check_1024", "call_unknown_order_retry", "call_smart_watch_purchase",
                    "call_update_email", "call_complaint_blender", "call_delivered_then_goodbye",
                    "call_angry_agent", "order_status_4567", "product_info_headphones", "out_of_scope_pizza")
STAGES = ("endpoint", "asr", "dialogue", "tts_first_audio", "voice_to_voice")


@dataclass
class WireTurn:
    fixture: str
    turn: int
    latency_ms: float | None  # None: no answer on the wire
    overlapped: bool  # the bot was still talking when the caller's speech ended


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def wire_turns(name: str, meta: dict, sent: list[Rtp], heard: list[Rtp]) -> list[WireTurn]:
    """Per sidecar turn: end of the caller's speech in the RTP sent -> first bot audio in the RTP back."""
    sent = sorted((p for p in sent if p.pt in (0, 8)), key=lambda p: p.ts)
    out = []
    for i, turn in enumerate(meta["turns"]):
        k = int(turn["end_s"] * 8000) // 160
        if k >= len(sent):
            break
        end_t = sent[k].t
        # still talking as the caller finished: the next onset would not be an answer to this turn
        before = [p for p in heard if end_t - 0.5 <= p.t <= end_t and p.pt in (0, 8)]
        overlapped = bool(len(before)) and bool((frame_rms(before) > SPEECH_RMS).sum() >= 3)
        onset = first_speech_after(heard, end_t)
        out.append(WireTurn(name, i + 1, (onset - end_t) * 1000 if onset else None, overlapped))
    return out


def late_frames(heard: list[Rtp], limit_s: float = 0.04) -> tuple[int, float]:
    """Packets that reached the caller more than `limit_s` after their RTP timestamp says (against the
    earliest transit seen so far: what a jitter buffer would have to absorb), and the largest gap in ms."""
    audio = sorted((p for p in heard if p.pt in (0, 8)), key=lambda p: p.t)
    if len(audio) < 2:
        return 0, 0.0
    t = np.array([p.t for p in audio])
    ts = np.unwrap(np.array([p.ts for p in audio], dtype=np.float64), period=2**32) / 8000
    transit = t - ts
    late = transit - np.minimum.accumulate(transit)
    return int((late > limit_s).sum()), float(np.diff(t).max() * 1000)


def setup_ms(packets: list) -> list[float]:
    """INVITE -> 200 OK per Call-ID, in ms, from captured SIP."""
    invites, oks = {}, {}
    for t, first, call_id, cseq in sip_lines(packets):
        if first.startswith("INVITE ") and call_id not in invites:
            invites[call_id] = t
        elif first.startswith("SIP/2.0 200") and cseq.endswith("INVITE") and call_id not in oks:
            oks[call_id] = t
    return [(oks[c] - invites[c]) * 1000 for c in invites if c in oks]


def split_streams(pcap: Path, media: int) -> tuple[list[Rtp], list[Rtp], list]:
    packets = read_udp(pcap)
    streams = rtp_streams(packets)
    sent = [p for (s, _), v in streams.items() if s == media for p in v]
    heard = [p for (_, d), v in streams.items() if d == media for p in v]
    return sent, heard, packets


def run_fixture(bot: BotProcess, work: Path, name: str) -> tuple[list[WireTurn], tuple[int, float], bool]:
    pcm, meta = fixture(name)
    pcap = work / f"{name}.pcap"
    sipp.write_rtp_pcap(pcap, pcm, "PCMU")
    media = sipp.free_port() & ~1
    hold_ms = int(meta["duration_s"] * 1000) + 6000
    with Capture(work / f"{name}.wire.pcap", f"udp port {media} or udp port {bot.port}"):
        res = asyncio.run(sipp.run_sipp(f"127.0.0.1:{bot.port}", talk_scenario(pcap, hold_ms),
                                        user=meta["caller_id"] or "sipp", timeout_s=hold_ms / 1000 + 15,
                                        extra=("-mp", str(media))))
    sent, heard, _ = split_streams(work / f"{name}.wire.pcap", media)
    return wire_turns(name, meta, sent, heard), late_frames(heard), res.ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixtures", default=",".join(DEFAULT_FIXTURES))
    ap.add_argument("--setup-calls", type=int, default=20)
    ap.add_argument("--keep", help="keep the captures and the CRM here")
    args = ap.parse_args(argv)
    args.names = [n for n in args.fixtures.split(",") if n]
    missing = [n for n in args.names if not (FIXTURES / f"{n}.wav").is_file()]
    if missing or not args.names:
        ap.error(f"--fixtures: no such fixture in {FIXTURES}: {', '.join(missing) or '(none given)'}")
    with work_dir(args.keep, "sip-latency-") as work:
        return measure(args, work)


@contextlib.contextmanager
def work_dir(keep: str | None, prefix: str) -> Iterator[Path]:
    """`keep` (created, left behind for a look at the captures), else a temporary folder."""
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        yield Path(keep)
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def measure(args: argparse.Namespace, work: Path) -> int:
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores, shared with other work)")
    turns: list[WireTurn] = []
    with BotProcess(work / "bot") as bot:
        for name in args.names:
            t0 = time.monotonic()
            got, (late, gap), ok = run_fixture(bot, work, name)
            turns += got
            lat = ", ".join(f"{t.latency_ms:.0f}{'*' if t.overlapped else ''}" if t.latency_ms else "-" for t in got)
            print(f"{name:32s} sipp {'ok' if ok else 'FAILED'}  turns {len(got)}  wire ms: {lat:28s} "
                  f"late>40ms {late}  max gap {gap:.0f} ms  ({time.monotonic() - t0:.0f} s)", flush=True)
        media = sipp.free_port() & ~1
        with Capture(work / "setup.pcap", f"udp port {bot.port}"):
            asyncio.run(sipp.run_sipp(f"127.0.0.1:{bot.port}", sipp.uac([sipp.pause(300)]),
                                      calls=args.setup_calls, limit=1, rate=4, timeout_s=60,
                                      extra=("-mp", str(media))))
        setups = setup_ms(read_udp(work / "setup.pcap"))
        crm = crm_interactions(bot.crm_url, len(args.names) + args.setup_calls, timeout=10)
    print(f"load average after: {os.getloadavg()[0]:.2f}")

    clean = [t.latency_ms for t in turns if t.latency_ms is not None and not t.overlapped]
    missing = sum(t.latency_ms is None for t in turns)
    print(f"\nvoice-to-voice on the wire: {len(clean)} turns (+{sum(t.overlapped for t in turns)} overlapped, "
          f"{missing} unanswered)")
    print(f"{'measure':34s} {'n':>4s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}")
    print(f"{'wire: caller speech end -> bot audio':34s} {len(clean):4d} {pct(clean, 50):8.0f} "
          f"{pct(clean, 95):8.0f} {max(clean, default=float('nan')):8.0f}")
    caller_turns = [t for call in crm for t in call.turns if t.transcript]
    for stage in STAGES:
        vals = [t.timings_ms[stage] for t in caller_turns if t.timings_ms.get(stage) is not None]
        print(f"{'bot clock: ' + stage:34s} {len(vals):4d} {pct(vals, 50):8.0f} {pct(vals, 95):8.0f} "
              f"{max(vals, default=float('nan')):8.0f}")
    print(f"{'INVITE -> 200 OK (wire)':34s} {len(setups):4d} {pct(setups, 50):8.2f} {pct(setups, 95):8.2f} "
          f"{max(setups, default=float('nan')):8.2f}")
    print("(* = the bot was still talking when the caller's speech ended: left out)")
    print(f"target: p50 <= 800 ms on the wire -> {'met' if pct(clean, 50) <= 800 else 'NOT met'}")
    print(f"captures and CRM in {work}" if args.keep else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
