"""The small decisions around a short-window Whisper decode: how many tokens a turn may need, when the
decoder has looped, where to cut a turn longer than 30 s, and whether a turn holds any sound at all.

Whisper's encoder always sees a fixed window (30 s in faster-whisper). A caller turn is a few seconds,
so we pad the mel features to a shorter window (20 s by default) and pay ~half the encoder cost. Short
windows make the decoder prone to loop on one-word turns ("No? No? No?..."): the token cap and the loop
check below detect that and send the turn back through the 30 s window.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_WHISPER_TOKENS = 224  # CTranslate2 generates at most max_length // 2 tokens for Whisper (448 // 2)


def token_cap(duration_s: float) -> int:
    """The most tokens a turn of this length can honestly need.

    Fast speech is ~4 words/s and digits or prices can take 2 tokens a word: 7 tokens/s plus headroom for
    a one-word answer. A decode that reaches the cap is treated as a loop, not as a long sentence.
    """
    return min(MAX_WHISPER_TOKENS, int(10 + 7 * max(0.0, duration_s)))


def has_loop(tokens: Sequence[int]) -> bool:
    """True when some run of 1-8 tokens repeats back to back (a single token 4x, longer phrases 3x), or
    when the whole output is one phrase said twice or more ("Okay. Okay.": a loop cut short by the end).

    A caller may really say "no, no": that only costs a re-run at the 30 s window, which keeps it.
    """
    n = len(tokens)
    for size in range(1, n // 2 + 1):
        if n % size == 0 and list(tokens) == list(tokens[:size]) * (n // size):
            return True
    for size in range(1, 9):
        need = 4 if size == 1 else 3
        if size * need > n:
            break
        for start in range(n - size * need + 1):
            unit = tokens[start : start + size]
            if all(tokens[start + k * size : start + (k + 1) * size] == unit for k in range(1, need)):
                return True
    return False


def collapse_loops(tokens: Sequence[int]) -> list[int]:
    """Keep one copy of every back-to-back repeated run: for a decode that ran into the cap even at 30 s."""
    out = list(tokens)
    changed = True
    while changed:
        changed = False
        for size in range(1, 9):
            i = 0
            while i + 2 * size <= len(out):
                if out[i : i + size] == out[i + size : i + 2 * size]:
                    del out[i + size : i + 2 * size]
                    changed = True
                else:
                    i += 1
    return out


def frame_rms_dbfs(x: np.ndarray, rate: int, frame_ms: int = 20) -> np.ndarray:
    """RMS level of each 20 ms frame, in dBFS (float audio, full scale 1.0)."""
    step = max(1, rate * frame_ms // 1000)
    n = len(x) // step
    if n == 0:
        frames = x[None, :] if len(x) else np.zeros((1, 1), np.float32)
    else:
        frames = x[: n * step].reshape(n, step)
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-10))


def split_long_turn(x: np.ndarray, rate: int, max_s: float = 30.0, search_s: float = 5.0) -> list[np.ndarray]:
    """Cut audio longer than `max_s` into pieces of at most `max_s`, each cut at the quietest 20 ms frame
    of the last `search_s` before the limit, so a word is rarely split in two."""
    limit = int(max_s * rate)
    step = rate // 50
    pieces: list[np.ndarray] = []
    start = 0
    while len(x) - start > limit:
        lo = start + limit - int(search_s * rate)
        window = x[lo : start + limit]
        levels = frame_rms_dbfs(window, rate)
        cut = lo + int(np.argmin(levels)) * step + step // 2
        pieces.append(x[start:cut])
        start = cut
    pieces.append(x[start:])
    return pieces


def pad_features(features: np.ndarray, frames: int) -> np.ndarray:
    """Mel features [n_mels, n] zero-padded (or trimmed) to `frames`, as a contiguous float32 batch."""
    n = features.shape[-1]
    if n >= frames:
        out = features[:, :frames]
    else:
        out = np.pad(features, ((0, 0), (0, frames - n)))
    return np.ascontiguousarray(out[None].astype(np.float32, copy=False))
