"""Shared pieces of the whole-bot SIP tests and benchmarks: the bot's fixtures, the words heard, sipp pieces.

- the bot as a process (`BotProcess`, `crm_interactions`) lives in `bot_process.py`, the wire (`Capture`,
  `read_udp`, `rtp_streams`, `stream_pcm` ...) in `wire_capture.py`; both are re-exported here.
- `heard_words`: the real recognizer (Whisper tiny.en) on received audio, one speech stretch at a time.
- sipp pieces: a caller that talks and then hangs up unless the bot hung up first, and a pcap that
  carries RFC 2833 key presses inside the audio stream (one SSRC, one sequence, like a phone).
"""

from __future__ import annotations

import functools
import json
import socket
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from bot_process import BotProcess, crm_interactions  # noqa: F401 - re-exported for the tests and benchmarks
from sip_support import reap, sip_options  # noqa: F401 - re-exported
from wire_capture import (  # noqa: F401 - re-exported
    DUMPCAP,
    SPEECH_RMS,
    Capture,
    Rtp,
    Udp,
    decode_g711,
    first_speech_after,
    frame_rms,
    read_udp,
    rtp_streams,
    sip_lines,
    stream_pcm,
)

from telephony import g711, sipp
from telephony.sipp import free_port  # noqa: F401 - re-exported

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "audio_fixtures"


# --- fixtures ------------------------------------------------------------------------------------------


def fixture(name: str) -> tuple[np.ndarray, dict]:
    """A QA fixture as 8 kHz int16 samples (the WAV is µ-law) and its sidecar."""
    pcm, rate = sf.read(str(FIXTURES / f"{name}.wav"), dtype="int16")
    assert rate == 8000, f"{name}.wav: expected 8 kHz, got {rate}"
    return pcm, json.loads((FIXTURES / f"{name}.json").read_text())


def line_noise(seconds: float, seed: int = 7) -> np.ndarray:
    """-60 dBFS noise, like the fixtures' gaps: a live line, never digital zero."""
    return (np.random.default_rng(seed).standard_normal(int(seconds * 8000)) * 33).astype(np.int16)


# --- what was heard ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def recognizer():  # noqa: ANN201 - asr.Recognizer, imported lazily (loading Whisper takes seconds)
    from asr import load_recognizer

    rec = load_recognizer()
    rec.warm_up()
    return rec


def speech_stretches(pcm: np.ndarray, rate: int, min_gap_s: float = 0.8) -> list[tuple[int, int]]:
    """(start, end) sample ranges where someone speaks: loud 20 ms frames, joined over short pauses."""
    n = rate // 50
    frames = pcm[: len(pcm) // n * n].astype(np.float64).reshape(-1, n)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > SPEECH_RMS)
    out: list[list[int]] = []
    for f in loud:
        if out and f - out[-1][1] <= min_gap_s * 50:
            out[-1][1] = f
        else:
            out.append([f, f])
    pad = rate // 5
    return [(max(0, a * n - pad), min(len(pcm), (b + 1) * n + pad)) for a, b in out if b - a >= 10]


def heard_words(pcm: np.ndarray, rate: int) -> str:
    """What Whisper hears in received audio, stretch by stretch (each stays inside one encoder window)."""
    texts = []
    for a, b in speech_stretches(pcm, rate):
        x = soxr.resample(pcm[a:b].astype(np.float32), rate, 16000) if rate != 16000 else pcm[a:b]
        texts.append(recognizer().transcribe(np.clip(x, -32768, 32767).astype(np.int16).tobytes()).text)
    return " ".join(texts).lower()


# --- sipp pieces ---------------------------------------------------------------------------------------


def talk_scenario(pcap: Path, hold_ms: int, proxy: bool = False, codec: str = "PCMU") -> str:
    """sipp calls, plays `pcap`, and hangs up after `hold_ms` unless the bot hung up first (then it answers
    the bot's BYE). `proxy`: through a record-routing proxy, the BYE follows the route set."""
    wait_bye = (f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
                f'  <recv request="BYE" timeout="{hold_ms}" ontimeout="hangup"/>\n'
                + sipp.OK_TO_LAST + '  <nop hide="true" next="done"/>\n  <label id="hangup"/>\n')
    ours = sipp.request("BYE", 9, routed=proxy) + '  <recv response="200"/>\n  <label id="done"/>\n'
    pt = {"PCMU": 0, "PCMA": 8}[codec]
    return sipp.uac([wait_bye, ours], sipp.sdp({pt: f"{codec}/8000"}), proxy=proxy)


DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


def write_keys_pcap(path: Path, pcm8k: np.ndarray, keys: list[tuple[float, str]], ssrc: int = 0x5151) -> None:
    """One PCMU stream of `pcm8k` in which each (seconds, key) becomes an RFC 2833 event (pt 101): six
    tone packets (120 ms, growing duration) and three end packets, like a phone's keypad."""
    payload = g711.ulaw_encode(pcm8k)
    starts = {round(at / 0.02): DTMF_EVENTS[k] for at, k in keys}
    records, seq, i, n = [], 0, 0, len(payload) // 160
    while i < n:
        if i in starts:
            event, ts = starts[i], i * 160
            for j in range(9):
                end, dur = j >= 6, min(j + 1, 6) * 160
                body = bytes([event, (0x80 if end else 0) | 10]) + dur.to_bytes(2, "big")
                records.append(((i + j) * 0.02, sipp.rtp_packet(101, seq, ts, ssrc, body, marker=j == 0)))
                seq += 1
            i += 9
            continue
        records.append((i * 0.02, sipp.rtp_packet(0, seq, i * 160, ssrc, payload[i * 160:i * 160 + 160],
                                                  marker=i == 0)))
        seq, i = seq + 1, i + 1
    sipp.write_pcap(path, records)


def free_port_block(count: int, step: int = 4, low: int = 20000, high: int = 40000) -> int:
    """An even base port with `count` free UDP ports `step` apart: sipp's per-call media ports."""
    rng = np.random.default_rng()
    for _ in range(200):
        base = int(rng.integers(low // 2, (high - count * step) // 2)) * 2
        socks = []
        try:
            for i in range(count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + i * step))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no block of {count} free UDP ports found")
