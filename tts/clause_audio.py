"""What every clause goes through before the phone: trim, level, limit, pause.

Engines pad their output with silence (hibari ~330 ms before and ~500 ms after every sentence) and speak at
different levels (hibari ~6.5 dB below Piper), so a reply mixing clauses or voices would sound patchy and
start late. Each clause is trimmed to its speech plus a short pad, brought to one active-speech level,
passed through a peak limiter so nothing clips, and followed by a pause that fits its punctuation.
"""

from __future__ import annotations

import numpy as np

TARGET_LEVEL_DBFS = -20.0  # active speech level of every voice (RMS over frames that carry speech)
CEILING = 10 ** (-1.0 / 20)  # limiter ceiling, -1 dBFS: headroom for the resampler's ripple
LEAD_PAD_MS = 20
TRAIL_PAD_MS = 40
COMMA_PAUSE_MS = 160
SENTENCE_PAUSE_MS = 300
_GATE_DB = 30.0  # frames this far below the loudest frame are pauses, not speech
_TRIM_DB = 40.0  # quieter than loudest frame minus this = silence for trimming
_FLOOR_DBFS = -65.0
_MAX_GAIN_DB = 24.0  # a near-silent clause is not blown up into noise


def _frame_db(x: np.ndarray, frame: int) -> np.ndarray:
    n = len(x) // frame
    if n == 0:
        return np.zeros(0)
    power = np.mean(np.square(x[: n * frame].reshape(n, frame), dtype=np.float64), axis=1)
    return 10 * np.log10(power + 1e-12)


def trim_silence(x: np.ndarray, rate: int, lead_pad_ms: int = LEAD_PAD_MS,
                 trail_pad_ms: int = TRAIL_PAD_MS) -> np.ndarray:
    """Speech plus a short pad on each side (with 5 ms fades); an empty array if there is no speech."""
    frame = max(1, rate // 200)  # 5 ms
    db = _frame_db(x, frame)
    if len(db) == 0:
        return np.zeros(0, np.float32)
    threshold = max(db.max() - _TRIM_DB, _FLOOR_DBFS)
    active = np.flatnonzero(db > threshold)
    if len(active) == 0:
        return np.zeros(0, np.float32)
    start = max(0, active[0] * frame - rate * lead_pad_ms // 1000)
    end = min(len(x), (active[-1] + 1) * frame + rate * trail_pad_ms // 1000)
    out = np.array(x[start:end], dtype=np.float32)
    fade = min(len(out) // 2, frame)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    out[:fade] *= ramp
    out[len(out) - fade :] *= ramp[::-1]
    return out


def speech_level_dbfs(x: np.ndarray, rate: int) -> float | None:
    """Active speech level: mean power of the 20 ms frames within 30 dB of the loudest; None if silent."""
    db = _frame_db(x, max(1, rate // 50))
    if len(db) == 0 or db.max() < _FLOOR_DBFS:
        return None
    gated = db[db > db.max() - _GATE_DB]
    return float(10 * np.log10(np.mean(10 ** (gated / 10))))


def match_loudness(x: np.ndarray, rate: int, target_dbfs: float = TARGET_LEVEL_DBFS) -> np.ndarray:
    level = speech_level_dbfs(x, rate)
    if level is None:
        return x.astype(np.float32, copy=False)
    gain_db = min(target_dbfs - level, _MAX_GAIN_DB)
    return (x * np.float32(10 ** (gain_db / 20))).astype(np.float32)


def limit_peaks(x: np.ndarray, rate: int, ceiling: float = CEILING) -> np.ndarray:
    """Peak limiter: smooth gain reduction around peaks above `ceiling` instead of clipping them.

    Gain is computed per 2.5 ms block, each block takes the smallest gain of itself and its neighbours
    (attack before the peak, hold after), and is interpolated between block centres. Every sample's gain
    is at most its own block's gain, so the output never exceeds the ceiling.
    """
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak <= ceiling:
        return x
    block = max(1, rate // 400)
    n = -(-len(x) // block)
    padded = np.zeros(n * block, np.float32)
    padded[: len(x)] = np.abs(x)
    block_peak = padded.reshape(n, block).max(axis=1)
    gain = np.minimum(1.0, ceiling / np.maximum(block_peak, 1e-9))
    held = gain.copy()
    held[1:] = np.minimum(held[1:], gain[:-1])
    held[:-1] = np.minimum(held[:-1], gain[1:])
    centres = np.arange(n) * block + block / 2
    sample_gain = np.interp(np.arange(len(x)), centres, held).astype(np.float32)
    return np.clip(x * sample_gain, -ceiling, ceiling)


def shape_clause(x: np.ndarray, rate: int, pause_ms: int = 0) -> np.ndarray:
    """Trim, level and limit one clause at its native rate, then append `pause_ms` of silence."""
    speech = trim_silence(x, rate)
    if len(speech) == 0:
        return speech
    speech = limit_peaks(match_loudness(speech, rate), rate)
    if pause_ms:
        speech = np.concatenate([speech, np.zeros(rate * pause_ms // 1000, np.float32)])
    return speech
