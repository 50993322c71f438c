"""The bot on the phone line: answer calls (`serve`), place them (`call`), and the `demo` call.

Each SIP call gets its own `CallSession` on the shared engines; the SIP side is `telephony.SipServer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from telephony.call_transport import SipCallTransport
from telephony.server import SipServer
from telephony.settings import SipSettings
from voicebot.config import Settings
from voicebot.engines import Engines
from voicebot.frames import BotReply, Frame, Transcript
from voicebot.session import CallResult, CallSession

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
DEMO_NAME = "audio_fixtures/call_order_check_1024.wav"
# The source tree's fixture; an installed package (Docker) finds the one in the working directory.
DEMO_FIXTURE = ROOT / DEMO_NAME if (ROOT / DEMO_NAME).exists() else Path(DEMO_NAME)
CALLER_TIMEOUT_S = 240.0  # the demo call; the fixture is about a minute


def sip_settings(settings: Settings, **overrides: object) -> SipSettings:
    """The `[sip]` section of the settings, with command-line overrides (None = keep)."""
    return SipSettings.from_mapping(dict(settings.extra.get("sip", {})), **overrides)


def conversation_printer(out: Callable[[str], None] = print) -> Callable[[Frame], None]:
    """An observer that prints the call as it happens: what the caller said, what the bot answered."""

    def show(frame: Frame) -> None:
        if isinstance(frame, Transcript):
            out(f"  caller ({frame.end_s:5.1f} s): {frame.text or '(nothing recognised)'}")
        elif isinstance(frame, BotReply):
            extra = f" [{frame.intent}]" if frame.intent else ""
            out(f"  bot{extra}: {frame.text}")

    return show


def log_result(t: SipCallTransport, r: CallResult) -> None:
    log.info("call from %s ended by %s after %.0f s: %d turns, outcome %s, interaction #%s",
             t.caller_id, r.ended_by, r.duration_s, len(r.caller_turns), r.outcome, r.interaction_id)


def serve(settings: Settings, sip: SipSettings) -> int:
    """Answer SIP calls until SIGINT/SIGTERM.

    The SIP port is bound first, so a port in use or a bad certificate fails at once and not after the
    engines loaded; INVITEs that arrive while the engines load get 503 (a dispatcher tries another worker).
    """

    async def main() -> None:
        server = SipServer(sip)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await server.start()
        engines: Engines | None = None
        try:
            print(f"voicebot: SIP bound to {server.uri}; loading the engines ...", file=sys.stderr, flush=True)
            # loaded on this thread, as before; the loop waits meanwhile, and INVITEs are refused on
            # the pjsip thread (SipServer._select), which needs no loop
            engines = Engines.load(settings, demo_if_empty=False)  # never seed a production CRM

            async def on_call(t: SipCallTransport) -> None:
                log_result(t, await CallSession(t, engines, settings).run())

            server.on_call = on_call
            print(f"voicebot answering on {sip.transport}/{sip.bind}:{server.port} (Ctrl-C to stop)",
                  file=sys.stderr, flush=True)
            await stop.wait()
        finally:
            await server.aclose()
            if engines is not None:
                engines.store.close()

    asyncio.run(main())
    return 0


async def place_call(uri: str, settings: Settings, engines: Engines, sip: SipSettings,
                     reason: dict | None = None, show: bool = True) -> CallResult:
    """Call `uri`; the session starts once media flows, so the greeting is not lost."""
    async with SipServer(sip) as server:
        t = await server.call(uri)
        observers = [conversation_printer()] if show else []
        return await CallSession(t, engines, settings, reason=reason, observers=observers).run()


def demo(settings: Settings, fixture: Path = DEMO_FIXTURE, out_dir: Path = Path("out/demo")) -> int:
    """A real SIP call on 127.0.0.1: the built-in caller plays a recorded customer, the bot answers."""
    meta = json.loads(fixture.with_suffix(".json").read_text()) if fixture.with_suffix(".json").exists() else {}
    out_dir.mkdir(parents=True, exist_ok=True)
    heard = out_dir / "caller_heard.wav"
    # the built-in caller speaks UDP from 127.0.0.1, whatever the [sip] section says about real callers
    sip = sip_settings(settings, bind="127.0.0.1", port=0, transport="udp", allowed_networks=("127.0.0.0/8",))
    print(f"loading the engines (CRM at {settings.crm.url}) ...", flush=True)
    engines = Engines.load(settings)
    results: list[CallResult] = []

    async def run() -> int:
        finished = asyncio.Event()

        async def on_call(t: SipCallTransport) -> None:
            print(f"call answered: from {t.caller_id} ({t.codec})", flush=True)
            try:
                results.append(await CallSession(t, engines, settings, observers=[conversation_printer()]).run())
            finally:
                finished.set()

        async with SipServer(sip, on_call) as server:
            print(f"bot listening at {server.uri}; calling it with {fixture.name} as the customer", flush=True)
            caller = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "telephony.caller", server.uri, "--play", str(fixture),
                "--record", str(heard), "--from", meta.get("caller_id") or "demo-caller", "--tail", "1",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            try:
                _, err = await asyncio.wait_for(caller.communicate(), CALLER_TIMEOUT_S)
            except TimeoutError:
                print(f"the built-in caller did not finish within {CALLER_TIMEOUT_S:.0f} s", file=sys.stderr)
                return 1
            finally:
                if caller.returncode is None:  # never leave it behind
                    caller.kill()
                    await caller.wait()
            if caller.returncode != 0:
                print(f"the built-in caller failed: {err.decode().strip()}", file=sys.stderr)
                return 1
            # the session closes the CRM record right after the BYE
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), 10)
            return 0

    try:
        rc = asyncio.run(run())
        if results:
            r = results[0]
            rec = engines.store.interaction(r.interaction_id)
            print(f"call ended by {r.ended_by} after {r.duration_s:.0f} s; CRM interaction #{r.interaction_id}: "
                  f"{len(rec.turns) if rec else 0} turns, outcome {r.outcome}")
            v2v = [t.timings_ms["voice_to_voice"] for t in r.caller_turns if t.timings_ms["voice_to_voice"]]
            if v2v:
                print(f"end of caller speech -> first bot audio: {', '.join(f'{x:.0f}' for x in v2v)} ms")
            print(f"what the caller heard: {heard}   (see the call again: voicebot crm interactions --turns)")
    finally:
        engines.store.close()
    return rc if results else 1
