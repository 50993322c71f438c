"""ITU-T G.711 (µ-law, PCMU, RTP payload type 0; A-law, PCMA, type 8) in numpy: what phones send.

pjsip does the real call's G.711; this is for the other end of the tests and benchmarks: sipp's RTP
pcaps (encode) and what a caller received on the wire (decode).
"""

from __future__ import annotations

import numpy as np

PAYLOAD_TYPES = {"PCMU": 0, "PCMA": 8}


def ulaw_encode(pcm: np.ndarray) -> bytes:
    """µ-law bytes of int16 samples."""
    x = pcm.astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.abs(x), 32635) + 0x84
    exp = np.floor(np.log2(mag)).astype(np.int32) - 7
    mant = (mag >> (exp + 3)) & 0x0F
    return (~(sign | (exp << 4) | mant) & 0xFF).astype(np.uint8).tobytes()


def alaw_encode(pcm: np.ndarray) -> bytes:
    """A-law bytes of int16 samples."""
    x = pcm.astype(np.int32) >> 3  # 13-bit
    sign = np.where(x >= 0, 0x80, 0)
    mag = np.minimum(np.where(x >= 0, x, -x - 1), 0xFFF)
    exp = np.where(mag < 32, 0, np.floor(np.log2(np.maximum(mag, 1))).astype(np.int32) - 4)
    mant = np.where(exp == 0, mag >> 1, mag >> np.maximum(exp, 1)) & 0x0F
    return ((sign | (exp << 4) | mant) ^ 0x55).astype(np.uint8).tobytes()


def _decode_tables() -> dict[int, np.ndarray]:
    b = np.arange(256)
    u = ~b & 0xFF
    mag = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 7)
    ulaw = np.where(u & 0x80, -(mag - 0x84), mag - 0x84)
    a = b ^ 0x55
    exp, mant = (a >> 4) & 7, a & 0x0F
    amag = np.where(exp == 0, (mant << 4) + 8, ((mant << 4) + 0x108) << np.maximum(exp - 1, 0))
    alaw = np.where(a & 0x80, amag, -amag)
    return {0: ulaw.astype(np.int16), 8: alaw.astype(np.int16)}


DECODE = _decode_tables()  # RTP payload type -> 256-entry table
ENCODE = {0: ulaw_encode, 8: alaw_encode}


def decode(payload: bytes, pt: int) -> np.ndarray:
    """PCMU (pt 0) or PCMA (pt 8) bytes -> int16 samples."""
    return DECODE[pt][np.frombuffer(payload, dtype=np.uint8)]
