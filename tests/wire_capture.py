"""The wire, as the caller's phone sees it: capture RTP/SIP on loopback and read it back with timestamps.

`Capture` runs dumpcap on `lo` with a capture filter (classic pcap; needs root or cap_net_raw);
`read_udp`, `rtp_streams`, `stream_pcm` read it back, G.711 decoded (telephony.g711) as the caller's phone
would play it.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from telephony import g711

DUMPCAP = shutil.which("dumpcap")
SPEECH_RMS = 100.0  # int16 RMS of a 20 ms frame that counts as voice (fixture line noise is ~33)


# --- packet capture ------------------------------------------------------------------------------------


class Capture:
    """dumpcap on the loopback interface, `bpf` as the capture filter, written as classic pcap."""

    def __init__(self, path: Path, bpf: str) -> None:
        self.path, self.bpf = path, bpf
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> Capture:
        if DUMPCAP is None:
            raise RuntimeError("dumpcap is not installed (Debian wireshark-common / tshark)")
        self.proc = subprocess.Popen([DUMPCAP, "-q", "-i", "lo", "-f", self.bpf, "-P", "-w", str(self.path)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        got, deadline = b"", time.monotonic() + timeout
        while b"Capturing on" not in got:
            ready, _, _ = select.select([self.proc.stderr], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(self.proc.stderr.fileno(), 4096) if ready else b""
            if not chunk:
                self.stop()
                raise RuntimeError(f"dumpcap did not start: {got.decode(errors='replace')[-500:]}")
            got += chunk
        time.sleep(0.2)  # the filter is attached; let the first ring buffer settle
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            time.sleep(0.3)  # the last packets in flight on lo
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> Capture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Udp:
    t: float  # capture time, seconds since the epoch
    src: int
    dst: int
    data: bytes


def read_udp(path: Path) -> list[Udp]:
    """The IPv4 UDP datagrams of a classic pcap file (µs or ns timestamps, Ethernet or cooked lo)."""
    raw = Path(path).read_bytes()
    magic = struct.unpack("<I", raw[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise ValueError(f"{path}: not a little-endian classic pcap (magic {magic:#x})")
    frac = 1e-9 if magic == 0xA1B23C4D else 1e-6
    link = struct.unpack("<I", raw[20:24])[0]
    l2 = {1: 14, 113: 16, 276: 20, 0: 4}[link]
    out, off = [], 24
    while off + 16 <= len(raw):
        sec, sub, incl, _ = struct.unpack("<IIII", raw[off:off + 16])
        frame = raw[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = frame[l2:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        udp = ip[(ip[0] & 0x0F) * 4:]
        src, dst, length = struct.unpack("!HHH", udp[:6])
        out.append(Udp(sec + sub * frac, src, dst, bytes(udp[8:length])))
    return out


@dataclass(frozen=True)
class Rtp:
    t: float
    src: int
    dst: int
    pt: int
    marker: bool
    seq: int
    ts: int
    payload: bytes


def rtp_streams(packets: list[Udp]) -> dict[tuple[int, int], list[Rtp]]:
    """RTP packets (not SIP, not RTCP) grouped by (source port, destination port), in capture order."""
    streams: dict[tuple[int, int], list[Rtp]] = {}
    for p in packets:
        d = p.data
        if len(d) < 12 or d[0] >> 6 != 2 or 72 <= (d[1] & 0x7F) <= 76:  # SIP text starts 0x41-0x5A
            continue
        head = 12 + 4 * (d[0] & 0x0F)
        seq, ts = struct.unpack("!HI", d[2:8])
        streams.setdefault((p.src, p.dst), []).append(
            Rtp(p.t, p.src, p.dst, d[1] & 0x7F, bool(d[1] & 0x80), seq, ts, d[head:]))
    return streams


G711 = g711.DECODE  # RTP payload type -> decode table
decode_g711 = g711.decode  # PCMU (pt 0) or PCMA (pt 8) payload -> int16 samples at 8 kHz


def stream_pcm(packets: list[Rtp]) -> np.ndarray:
    """The 8 kHz audio of one G.711 stream, each packet placed at its RTP timestamp (gaps stay silent)."""
    audio = [p for p in packets if p.pt in G711]
    if not audio:
        return np.zeros(0, dtype=np.int16)
    ts = np.unwrap(np.array([p.ts for p in audio], dtype=np.float64), period=2**32).astype(np.int64)
    ts -= ts.min()
    out = np.zeros(int(ts.max()) + 160, dtype=np.int16)
    for p, at in zip(audio, ts, strict=True):
        pcm = decode_g711(p.payload, p.pt)
        out[at:at + len(pcm)] = pcm[:len(out) - at]
    return out


def frame_rms(packets: list[Rtp]) -> np.ndarray:
    """Loudness of each audio packet (int16 RMS), in arrival order."""
    return np.array([np.sqrt(np.mean(decode_g711(p.payload, p.pt).astype(np.float64) ** 2))
                     for p in packets if p.pt in G711])


def first_speech_after(packets: list[Rtp], t: float, frames: int = 3) -> float | None:
    """Wire time of the first audio packet after `t` that starts `frames` loud packets in a row."""
    audio = [p for p in packets if p.pt in G711 and p.t >= t]
    loud = frame_rms(audio) > SPEECH_RMS
    for i in range(len(audio) - frames + 1):
        if loud[i:i + frames].all():
            return audio[i].t
    return None


def sip_lines(packets: list[Udp]) -> list[tuple[float, str, str, str]]:
    """(time, first line, Call-ID, CSeq) of every SIP message in the capture."""
    out = []
    for p in packets:
        if not p.data[:1].isalpha():
            continue
        text = p.data.decode(errors="replace")
        first = text.split("\r\n", 1)[0]
        call_id = re.search(r"^(?:Call-ID|i):\s*(.+?)\r?$", text, re.M | re.I)
        cseq = re.search(r"^CSeq:\s*(.+?)\r?$", text, re.M | re.I)
        out.append((p.t, first, call_id.group(1) if call_id else "", cseq.group(1) if cseq else ""))
    return out
