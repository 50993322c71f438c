"""The built-in SIP caller: a scripted customer for the demo and the tests.

    python -m telephony.caller sip:bot@127.0.0.1:5070 --play in.wav --record out.wav [--dtmf 1@2.5,#@4]
    python -m telephony.caller --listen --port 5080 --play in.wav --record out.wav   # wait to be called

It runs its own pjsua2 endpoint (so: its own process), plays the WAV into the call as the customer
(any rate; resampled once to the bus rate), records what it hears, sends DTMF at the given offsets, and
hangs up when the file ended plus `--tail` seconds, or earlier when the other side hangs up. It follows a
REFER (blind transfer) like a phone: the new leg is recorded to `<record>.leg2.wav`. The last stdout line
is a JSON summary (one entry per leg) that tests read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from telephony.call_transport import SipCallTransport
from telephony.dialog import DTMF_DIGITS, CallFailed
from telephony.endpoint import SipStartError
from telephony.server import SipServer
from telephony.settings import SipConfigError, SipSettings
from voicebot.clock import Clock
from voicebot.frames import CallerAudio, Frame, HangUp, InputEnded, KeyPress
from voicebot.pcm import AudioFileError, read_call_audio, write_wav
from voicebot.playout import Playout, PlayoutEvent
from voicebot.transport import CallIO

log = logging.getLogger(__name__)


@dataclass
class LegResult:
    record: str | None
    remote: str = ""
    codec: str = ""
    heard_s: float = 0.0  # seconds of audio received
    heard_rms: float = 0.0  # loudness of what was heard (int16 units)
    keys: list[str] = field(default_factory=list)  # DTMF the other side sent us
    ended_by: str = ""  # "caller" (us, file done), "remote" (BYE), "media" (RTP lost)


def parse_dtmf(spec: str | None) -> list[tuple[float, str]]:
    """'1@2.5,#@4' -> [(2.5, '1'), (4.0, '#')]: digits sent at those seconds into the call."""
    out = []
    for item in filter(None, (spec or "").split(",")):
        digits, _, at = item.partition("@")
        try:
            t = float(at)
        except ValueError:
            raise ValueError(f"--dtmf {item!r}: expected DIGITS@SECONDS, e.g. 1@2.5") from None
        if not DTMF_DIGITS.match(digits) or t < 0:
            raise ValueError(f"--dtmf {item!r}: digits must be 0-9 A-D * #, seconds >= 0")
        out.append((t, digits))
    return sorted(out)


class CallerScript:
    """What the customer does on one leg: talk (the WAV), listen (record), press keys, hang up."""

    def __init__(self, play: bytes, record: str | None, dtmf: list[tuple[float, str]], method: str,
                 tail_s: float, max_s: float) -> None:
        self.play, self.record, self.dtmf, self.method = play, record, dtmf, method
        self.tail_s, self.max_s = tail_s, max_s
        self.results: list[LegResult] = []

    async def __call__(self, t: SipCallTransport) -> None:
        leg = len(self.results)
        path = self.record if leg == 0 or not self.record else _leg_path(self.record, leg + 1)
        res = LegResult(record=path, remote=t.remote_uri, codec=t.codec)
        self.results.append(res)
        clock = Clock()
        playout = Playout(clock.now)
        heard = bytearray()
        io: CallIO

        async def feed(frame: Frame) -> None:
            if isinstance(frame, CallerAudio):
                heard.extend(frame.pcm)
            elif isinstance(frame, KeyPress):
                res.keys.append(frame.digit)
            elif isinstance(frame, HangUp):
                res.ended_by = "remote" if frame.by == "caller" else "caller"  # by: from the dialog's view
            elif isinstance(frame, InputEnded):
                res.ended_by = "media"

        io = CallIO(clock=clock, playout=playout, feed=feed)
        loop = asyncio.get_running_loop()

        def on_playout(ev: PlayoutEvent) -> None:  # media thread: hand over, do nothing here
            if ev.kind == "finished":
                loop.call_soon_threadsafe(loop.call_later, self.tail_s, io.ended.set)

        playout.listeners.append(on_playout)
        if leg == 0 and self.play:
            playout.begin(1, interruptible=False)
            playout.enqueue(1, self.play, last=True)
        else:  # a transferred leg: stay on the line in silence for the tail, listening
            loop.call_later(self.tail_s, io.ended.set)
        loop.call_later(self.max_s, io.ended.set)
        keys = [asyncio.ensure_future(self._press(t, at, d)) for at, d in self.dtmf] if leg == 0 else []
        try:
            await t.run(io)
        finally:
            for k in keys:
                k.cancel()
            res.ended_by = res.ended_by or "caller"
            pcm = np.frombuffer(bytes(heard), dtype=np.int16)
            res.heard_s = len(pcm) / 16000
            res.heard_rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0
            if path:
                write_wav(path, bytes(heard))

    async def _press(self, t: SipCallTransport, at: float, digits: str) -> None:
        await asyncio.sleep(at)
        try:
            await t.send_dtmf(digits, self.method)
        except (RuntimeError, ValueError) as e:
            log.warning("DTMF %s not sent: %s", digits, e)


def _leg_path(record: str, n: int) -> str:
    p = Path(record)
    return str(p.with_name(f"{p.stem}.leg{n}{p.suffix or '.wav'}"))


async def run_caller(settings: SipSettings, script: CallerScript, uri: str | None,
                     answer_timeout: float = 30.0) -> list[LegResult]:
    """Place one call to `uri` (or, with uri=None, wait for one) and play `script` on it and its transfers."""
    done = asyncio.Event()
    legs_running = 0

    async def on_call(t: SipCallTransport) -> None:
        nonlocal legs_running
        legs_running += 1
        try:
            await script(t)
        finally:
            legs_running -= 1
            if legs_running == 0:
                done.set()

    async with SipServer(settings, on_call, follow_transfers=True) as server:
        if uri is None:
            print(f"LISTENING {server.uri}", flush=True)
            await asyncio.wait_for(done.wait(), answer_timeout + script.max_s)
        else:
            t = await server.call(uri, timeout=answer_timeout)
            await on_call(t)
        # A REFER may have started another leg before this one ended: the server counts it from the REFER
        # on, ringing included (a transfer target may take its time to answer); let it finish too.
        if not await server.wait_idle(answer_timeout + script.max_s):
            raise TimeoutError
    return script.results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m telephony.caller", description=__doc__.splitlines()[0])
    ap.add_argument("uri", nargs="?", help="SIP URI to call (omit with --listen)")
    ap.add_argument("--play", help="WAV the customer says (any rate, mono or stereo)")
    ap.add_argument("--record", help="WAV to write what the customer heard (16 kHz mono)")
    ap.add_argument("--dtmf", help="digits to press: DIGITS@SECONDS[,...], e.g. 1@2.5,#@4")
    ap.add_argument("--dtmf-method", choices=("rfc2833", "info"), default="rfc2833")
    ap.add_argument("--tail", type=float, default=1.0, help="seconds to stay on after the WAV ended")
    ap.add_argument("--max-duration", type=float, default=120.0, help="hang up after this many seconds")
    ap.add_argument("--listen", action="store_true", help="wait for an incoming call instead of calling")
    ap.add_argument("--from", dest="from_user", default="caller",
                    help="our user part, which the far end sees as caller ID (e.g. +15551230001)")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="local SIP port (0 = any free port)")
    ap.add_argument("--transport", default="udp", choices=("udp", "tcp", "tls"))
    ap.add_argument("--tls-cert", help="certificate for --transport tls")
    ap.add_argument("--tls-key", help="private key for --transport tls")
    ap.add_argument("--tls-ca", help="CA bundle: verify the far end's certificate (and show ours)")
    ap.add_argument("--allow", default="127.0.0.0/8", help="comma-separated CIDRs allowed to call us")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for an answer / a call")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s")
    if bool(args.uri) == args.listen:
        ap.error("give a URI to call, or --listen to be called (not both)")
    try:
        play = read_call_audio(args.play) if args.play else b""
        script = CallerScript(play, args.record, parse_dtmf(args.dtmf), args.dtmf_method,
                              args.tail, args.max_duration)
        settings = SipSettings(bind=args.bind, port=args.port, transport=args.transport, username=args.from_user,
                               allowed_networks=tuple(args.allow.split(",")), tls_cert=args.tls_cert,
                               tls_key=args.tls_key, tls_ca=args.tls_ca, log_level=0)
        results = asyncio.run(run_caller(settings, script, args.uri, args.timeout))
    except (AudioFileError, SipConfigError, SipStartError, ValueError, CallFailed) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except TimeoutError:
        print("error: no call arrived" if args.listen else "error: call did not end in time", file=sys.stderr)
        return 3
    print(json.dumps({"legs": [asdict(r) for r in results]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
