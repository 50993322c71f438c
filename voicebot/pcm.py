"""PCM conversions done once at the edges: any WAV in, 16 kHz s16 mono on the bus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soxr

from voicebot.frames import SAMPLE_RATE


class AudioFileError(ValueError):
    """A WAV that cannot be used as a call; the message names the file and what is wrong."""


def to_int16(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)


def to_float(pcm: bytes | np.ndarray) -> np.ndarray:
    a = np.frombuffer(pcm, dtype=np.int16) if isinstance(pcm, bytes | bytearray) else pcm
    return a.astype(np.float32) / 32768.0


def resample(x: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Float32 mono resampling (soxr, high quality); a no-op when the rates match."""
    if rate_in == rate_out:
        return x.astype(np.float32, copy=False)
    return soxr.resample(x.astype(np.float32, copy=False), rate_in, rate_out, quality="HQ")


def read_call_audio(path: str | Path) -> bytes:
    """Read any PCM/float WAV (any rate, width, channels) as 16 kHz s16 mono bytes.

    Raises AudioFileError with a one-line reason for a missing, empty, corrupt or non-audio file.
    """
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        raise AudioFileError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise AudioFileError(f"{p}: empty file")
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises its own LibsndfileError and RuntimeError variants
        first_line = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise AudioFileError(f"{p}: not a readable audio file ({first_line})") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{p}: contains no audio samples")
    mono = data.mean(axis=1)
    if not np.isfinite(mono).all():
        raise AudioFileError(f"{p}: contains invalid (NaN/inf) samples")
    return to_int16(resample(mono, int(rate))).tobytes()


def write_wav(path: str | Path, pcm: bytes, rate: int = SAMPLE_RATE) -> None:
    import wave

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def _mulaw_encode(x: np.ndarray) -> np.ndarray:
    mu = 255.0
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.round((y + 1) / 2 * mu).astype(np.uint8)


def _mulaw_decode(q: np.ndarray) -> np.ndarray:
    mu = 255.0
    y = q.astype(np.float32) / mu * 2 - 1
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu).astype(np.float32)


def phone_line(x: np.ndarray, rate: int) -> np.ndarray:
    """What a G.711 telephone line does to audio: band-limit to 8 kHz and 8-bit µ-law. Returns 8 kHz float32."""
    narrow = resample(x, rate, 8000)
    return _mulaw_decode(_mulaw_encode(np.clip(narrow, -1.0, 1.0)))
