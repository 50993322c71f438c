"""Fast access to a pjsua2 `MediaFrame.buf` (a SWIG `std::vector<unsigned char>`).

`bytes(frame.buf)` makes SWIG walk the vector element by element: ~0.3-0.8 ms per 640-byte frame, paid
twice per call every 20 ms on pjsip's clock thread. libstdc++ lays a vector out as three pointers
(begin, end, end of storage), so reading those through ctypes gives a plain memcpy (~2 us).
`check_layout()` verifies that assumption once at start-up against SWIG's own view.
"""

from __future__ import annotations

import ctypes

_PTR = ctypes.sizeof(ctypes.c_void_p)


def _span(vec: object) -> tuple[int, int]:
    addr = int(vec.this)  # type: ignore[attr-defined]  # address of the std::vector object
    begin = ctypes.c_void_p.from_address(addr).value or 0
    end = ctypes.c_void_p.from_address(addr + _PTR).value or 0
    return begin, end - begin


def read(vec: object) -> bytes:
    """The vector's bytes (one memcpy)."""
    begin, size = _span(vec)
    return ctypes.string_at(begin, size) if size else b""


def write(vec: object, data: bytes) -> None:
    """Replace the vector's content with `data`."""
    if len(vec) != len(data):  # type: ignore[arg-type]
        vec.resize(len(data))  # type: ignore[attr-defined]
    begin, size = _span(vec)
    if size:
        ctypes.memmove(begin, data, size)


def check_layout() -> None:
    """Raise RuntimeError if this build's std::vector layout is not the one `read`/`write` assume."""
    import pjsua2 as pj

    probe = bytes(range(256)) * 3
    frame = pj.MediaFrame()
    frame.buf = pj.ByteVector(probe)
    if read(frame.buf) != probe:
        raise RuntimeError("pjsua2 ByteVector layout is not libstdc++'s: cannot read frames via ctypes")
    write(frame.buf, probe[::-1][:640])
    if bytes(frame.buf) != probe[::-1][:640]:
        raise RuntimeError("pjsua2 ByteVector layout is not libstdc++'s: cannot write frames via ctypes")
