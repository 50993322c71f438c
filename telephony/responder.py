"""A stand-in bot for exercising the SIP side without the engines: an `on_call` that greets with known
audio, records what the caller says, collects DTMF, and can transfer or hang up on cue.

    python -m telephony.responder --port 5070 --greeting hello.wav   # call it with any softphone
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import dataclass, field

import numpy as np

from telephony.call_transport import SipCallTransport
from voicebot.clock import Clock
from voicebot.frames import CallerAudio, Frame, HangUp, InputEnded, KeyPress
from voicebot.playout import Playout
from voicebot.transport import CallIO


def tone(freq: float = 440.0, seconds: float = 1.0, level: float = 0.3, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * level * 32767).astype(np.int16).tobytes()


@dataclass
class ResponderCall:
    caller_id: str | None
    direction: str
    codec: str
    heard: bytearray = field(default_factory=bytearray)  # caller audio as fed to the bus, 16 kHz s16
    frame_times: list[float] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    ended: Frame | None = None  # the HangUp or InputEnded that ended the input, if any
    transferred: bool | None = None
    recording: str | None = None

    def energetic_frames(self, threshold: float = 300.0) -> int:
        pcm = np.frombuffer(bytes(self.heard), dtype=np.int16).reshape(-1, 320).astype(np.float64)
        return int((np.sqrt((pcm**2).mean(axis=1)) > threshold).sum())


class Responder:
    def __init__(self, greeting: bytes = b"", hangup_after_s: float | None = None,
                 transfer_to: str | None = None, transfer_after_s: float = 0.5) -> None:
        self.greeting = greeting
        self.hangup_after_s = hangup_after_s
        self.transfer_to = transfer_to
        self.transfer_after_s = transfer_after_s
        self.calls: list[ResponderCall] = []
        self.finished = asyncio.Event()  # set each time a call's run() returned

    async def __call__(self, t: SipCallTransport) -> None:
        rec = ResponderCall(t.caller_id, t.direction, t.codec)
        self.calls.append(rec)
        clock = Clock()
        playout = Playout(clock.now)

        async def feed(frame: Frame) -> None:
            if isinstance(frame, CallerAudio):
                rec.heard.extend(frame.pcm)
                rec.frame_times.append(frame.t)
            elif isinstance(frame, KeyPress):
                rec.keys.append(frame.digit)
            elif isinstance(frame, HangUp | InputEnded):
                rec.ended = frame
                if isinstance(frame, InputEnded):  # as CallSession does: nothing more to hear, end it
                    io.ended.set()

        io = CallIO(clock=clock, playout=playout, feed=feed)
        if self.greeting:
            playout.begin(1, interruptible=False)
            playout.enqueue(1, self.greeting, last=True)
        loop = asyncio.get_running_loop()
        if self.hangup_after_s is not None:
            loop.call_later(self.hangup_after_s, io.ended.set)
        side = asyncio.ensure_future(self._transfer(t, rec, io)) if self.transfer_to else None
        try:
            await t.run(io)
        finally:
            rec.recording = t.recording_path()
            if side is not None:
                await asyncio.wait({side}, timeout=35)
            self.finished.set()

    async def _transfer(self, t: SipCallTransport, rec: ResponderCall, io: CallIO) -> None:
        await asyncio.sleep(self.transfer_after_s)
        rec.transferred = await t.transfer(self.transfer_to)
        io.ended.set()


def main(argv: list[str] | None = None) -> None:
    from telephony.server import SipServer
    from telephony.settings import SipSettings
    from voicebot.pcm import read_call_audio

    ap = argparse.ArgumentParser(prog="python -m telephony.responder", description=__doc__.splitlines()[0])
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5070)
    ap.add_argument("--allow", default="127.0.0.0/8", help="comma-separated CIDRs allowed to call")
    ap.add_argument("--greeting", help="WAV to say on answer (default: a 1 s 440 Hz tone)")
    ap.add_argument("--hangup-after", type=float, default=30.0)
    ap.add_argument("--record-dir")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    greeting = read_call_audio(args.greeting) if args.greeting else tone()
    settings = SipSettings(bind=args.bind, port=args.port, allowed_networks=tuple(args.allow.split(",")),
                           record_dir=args.record_dir)
    SipServer(settings, Responder(greeting, hangup_after_s=args.hangup_after)).serve()


if __name__ == "__main__":
    main()
