"""Replay every fixture on the fast clock and print the figures the spine issue asks for.

    .venv/bin/python benchmarks/replay_latency.py [audio_fixtures/] [--asr whisper-tiny] [--json out.json]

Quality (WER, intent, slot accuracy), per-stage latency p50/p95, end of speech → first bot audio,
replay speed against real time, start-up cost and the peak memory of this one process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from voicebot.config import load_settings
from voicebot.engines import Engines
from voicebot.replay import FreshCrm, find_fixtures, replay_all
from voicebot.scorecard import STAGES, score


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("path", nargs="?", default="audio_fixtures")
    ap.add_argument("--asr", default=None)
    ap.add_argument("--voice", default=None)
    ap.add_argument("--generator", default=None)
    ap.add_argument("--json", help="write the summary here too")
    args = ap.parse_args()
    settings = load_settings()
    if args.asr:
        settings.asr.engine = args.asr
    if args.voice:
        settings.tts.voice = args.voice
    if args.generator:
        settings.dialogue.generator = args.generator
    fixtures = find_fixtures(args.path)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = FreshCrm(Path(tmp))
        settings.crm.url = f"sqlite:///{fresh.template}"
        t = time.perf_counter()
        engines = Engines.load(settings)
        startup = time.perf_counter() - t
        t = time.perf_counter()
        runs = asyncio.run(replay_all(fixtures, engines, settings, fresh=fresh))
        wall = time.perf_counter() - t
        engines.store.close()
    card = score(runs)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = card.summary() | {
        "startup_s": round(startup, 2),
        "engine_load_s": {k: round(v, 2) for k, v in engines.load_s.items()},
        "replay_wall_s": round(wall, 1),
        "audio_s": round(card.audio_s, 1),
        "peak_rss_mb": round(peak_mb),
        "asr": settings.asr.engine,
        "voice": settings.tts.voice,
    }
    print(f"fixtures {card.fixtures}, caller turns scored {len(card.turns)}, errors {len(card.errors)}")
    print(f"WER {card.wer:.2%}  intent {card.intent_accuracy:.1%}  slots {card.slot_accuracy:.1%}"
          f"  replies served {card.reply_accuracy or 0:.1%}")
    print(f"{'stage':<18}{'p50 ms':>9}{'p95 ms':>9}{'n':>5}")
    for s in STAGES:
        p50, p95 = card.percentiles(s)
        if p50 is not None:
            print(f"{s:<18}{p50:>9.0f}{p95:>9.0f}{len(card.latencies[s]):>5}")
    print(f"replay: {card.audio_s:.0f} s of call audio in {wall:.1f} s = {card.audio_s / wall:.1f}x real time")
    print(f"start-up {startup:.1f} s {summary['engine_load_s']}; peak RSS {peak_mb:.0f} MB")
    for t in card.turns:
        if not t.intent_ok or t.slots_right < len(t.expected_slots):
            print(f"  miss {t.fixture}#{t.index}: heard {t.heard_text!r} -> {t.intent} {t.slots}"
                  f" (want {t.expected_intent} {t.expected_slots})")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
