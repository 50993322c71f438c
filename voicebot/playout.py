"""The playout queue: bot audio waiting to go out on the line, 20 ms at a time.

We own the line (RTP, file, sound card), so this is the only place bot audio is buffered: a barge-in
`flush()` silences the bot within one frame. Transports call `pull()` on their own clock (pjsip's media
thread for SIP); it never blocks. Events (first frame of a reply played, reply finished or dropped) go to
listeners, which must not block either: the session hands them to its event loop.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from voicebot.frames import FRAME_BYTES


@dataclass(frozen=True, slots=True)
class PlayoutEvent:
    kind: str  # "started" (first frame of a reply left) | "finished" | "interrupted"
    turn: int
    t: float


Listener = Callable[[PlayoutEvent], None]


class Playout:
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._frames: deque[tuple[int, bytes, bool]] = deque()  # (turn, 20 ms pcm, last frame of reply)
        self._partial = b""  # bytes of the open reply not yet a whole frame
        self._open_turn: int | None = None  # reply still being synthesized
        self._interruptible: dict[int, bool] = {}
        self._started: set[int] = set()
        self.listeners: list[Listener] = []

    # --- producer side (the pipeline) ---------------------------------------------------------------
    def begin(self, turn: int, interruptible: bool = True) -> None:
        with self._lock:
            self._open_turn = turn
            self._interruptible[turn] = interruptible

    def enqueue(self, turn: int, pcm: bytes, last: bool = False) -> None:
        empty_reply = False
        with self._lock:
            data = self._partial + pcm
            if last and len(data) % FRAME_BYTES:
                data += b"\x00" * (FRAME_BYTES - len(data) % FRAME_BYTES)
            whole = len(data) - len(data) % FRAME_BYTES
            for i in range(0, whole, FRAME_BYTES):
                self._frames.append((turn, data[i : i + FRAME_BYTES], False))
            self._partial = data[whole:]
            if last:
                if self._frames and self._frames[-1][0] == turn:
                    t, frame, _ = self._frames.pop()
                    self._frames.append((t, frame, True))
                else:
                    empty_reply = True
                if self._open_turn == turn:
                    self._open_turn = None
        if empty_reply:
            self._emit("finished", turn)

    def flush(self) -> list[int]:
        """Drop everything queued for playout (barge-in). Returns the replies dropped, in order."""
        with self._lock:
            dropped = list(dict.fromkeys(t for t, _, _ in self._frames))
            if self._open_turn is not None and self._open_turn not in dropped:
                dropped.append(self._open_turn)
            self._frames.clear()
            self._partial = b""
            self._open_turn = None
        for turn in dropped:
            self._emit("interrupted", turn)
        return dropped

    # --- consumer side (the transport's clock) --------------------------------------------------------
    def pull(self) -> bytes | None:
        """The next 20 ms of bot audio, or None for silence. Never blocks for long: pjsip calls it."""
        with self._lock:
            if not self._frames:
                return None
            turn, pcm, last = self._frames.popleft()
            first = turn not in self._started
            if first:
                self._started.add(turn)
        if first:
            self._emit("started", turn)
        if last:
            self._emit("finished", turn)
        return pcm

    # --- state ---------------------------------------------------------------------------------------
    @property
    def speaking(self) -> bool:
        """Bot audio is queued or a reply is still being synthesized."""
        return bool(self._frames) or self._open_turn is not None

    @property
    def interruptible(self) -> bool:
        """Whether the reply now playing (or being synthesized) may be cut by the caller."""
        with self._lock:
            turn = self._frames[0][0] if self._frames else self._open_turn
            return True if turn is None else self._interruptible.get(turn, True)

    def _emit(self, kind: str, turn: int) -> None:
        ev = PlayoutEvent(kind, turn, self._now())
        for fn in self.listeners:
            fn(ev)
