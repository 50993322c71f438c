"""`voicebot` command line: replay fixtures, run the phone line, look at the CRM."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
from pathlib import Path

from voicebot.config import Settings, SettingsError, check_settings, load_settings

OPERATOR_ERRORS = {"ModelMissing", "VoiceMissing", "VoiceCorrupt", "SipConfigError", "SipStartError", "CallFailed",
                   "AudioFileError"}


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    if getattr(args, "crm", None):
        settings.crm.url = args.crm
    if getattr(args, "asr", None):
        settings.asr.engine = args.asr
    if getattr(args, "voice", None):
        settings.tts.voice = args.voice
    check_settings(settings)
    return settings


def cmd_replay(args: argparse.Namespace) -> int:
    from voicebot.engines import Engines
    from voicebot.replay import FreshCrm, describe_turns, find_fixtures, replay_all
    from voicebot.report import write_html
    from voicebot.scorecard import score

    target = Path(args.path)
    if not target.exists():
        print(f"voicebot replay: {target}: no such file or directory", file=sys.stderr)
        return 2
    fixtures = find_fixtures(target)
    if not fixtures:
        print(f"voicebot replay: {target}: no .wav fixtures in this folder", file=sys.stderr)
        return 2
    settings = _settings(args)
    out_dir = Path(args.out) if args.out else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="voicebot-replay-") as tmp:
        # Unless a CRM is named, every fixture gets its own copy of the demo CRM: replays are reproducible
        # and never touch the production store.
        fresh = None if args.crm else FreshCrm(Path(tmp))
        if fresh:
            settings.crm.url = f"sqlite:///{fresh.template}"
        engines = Engines.load(settings)
        runs = asyncio.run(replay_all(fixtures, engines, settings, fresh=fresh, realtime=args.realtime,
                                      out_dir=out_dir, progress=True))
        engines.store.close()
    card = score(runs)
    for run in runs:
        if run.error:
            print(run.error, file=sys.stderr)
        elif args.json:
            for obj in run.turn_json():
                print(json.dumps(obj))
        else:
            print(describe_turns(run))
    if not args.json:
        print(json.dumps(card.summary(), indent=1))
    if args.report:
        write_html(args.report, card, runs)
        print(f"report: {args.report}", file=sys.stderr)
    return 1 if card.errors else 0


def cmd_crm(args: argparse.Namespace) -> int:
    from crm_store import CrmStore
    from crm_store.demo import load_demo

    settings = _settings(args)
    store = CrmStore.open(settings.crm.url)
    if args.action == "load-demo":
        load_demo(store)
        print(f"demo data loaded into {settings.crm.url}")
    elif args.action == "tickets":
        for t in store.tickets(limit=args.limit):
            print(f"#{t.number} [{t.status}] {t.category} → {t.team}: {t.text}"
                  + (f" (order {t.order_number})" if t.order_number else ""))
    elif args.action == "interactions":
        for i in store.interactions(limit=args.limit):
            print(f"#{i.id} {i.started_at:%Y-%m-%d %H:%M} {i.direction} {i.caller or '?'} "
                  f"{len(i.turns)} turns, {i.duration_s or 0:.0f} s → {i.outcome}")
            if args.turns:
                for t in i.turns:
                    if t.transcript:
                        print(f"    caller: {t.transcript}")
                    print(f"    bot [{t.intent}]: {t.reply}")
    elif args.action == "notifications":
        for n in store.notifications():
            print(f"{n.created_at:%Y-%m-%d %H:%M} to {n.team}: {n.message}")
    store.close()
    return 0


def _sip(args: argparse.Namespace, settings: Settings):  # noqa: ANN202 - telephony imports stay lazy
    from voicebot.phone import sip_settings

    allow = tuple(args.allow.split(",")) if getattr(args, "allow", None) else None
    return sip_settings(settings, bind=getattr(args, "bind", None), port=getattr(args, "port", None),
                        transport=getattr(args, "transport", None), allowed_networks=allow)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    sip = _sip(args, settings)
    if args.workers > 1:
        from telephony.dispatcher import serve_bot_site

        # Each worker is a whole bot (pjsua2 caps a process at 4 calls); Kamailio spreads calls over them.
        return serve_bot_site(sip, args.workers, config=args.config, verbose=args.verbose, crm=args.crm)
    from voicebot.phone import serve

    return serve(settings, sip)


def cmd_call(args: argparse.Namespace) -> int:
    from telephony.uri import check_uri
    from voicebot.engines import Engines
    from voicebot.phone import place_call, sip_settings

    settings = _settings(args)
    check_uri(args.uri, "the number to call")  # before the engines load: a typo fails in a second
    sip = sip_settings(settings, port=0)  # our side of an outbound call: any free local port
    reason = {"kind": "callback"}
    if args.order:
        reason = {"kind": "order_followup", "order_number": args.order}
    elif args.ticket:
        reason = {"kind": "ticket_followup", "ticket_number": args.ticket}
    engines = Engines.load(settings, demo_if_empty=False)
    try:
        result = asyncio.run(place_call(args.uri, settings, engines, sip, reason))
    finally:
        engines.store.close()
    print(f"call ended by {result.ended_by} after {result.duration_s:.0f} s; "
          f"CRM interaction #{result.interaction_id}, outcome {result.outcome}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from voicebot.phone import DEMO_FIXTURE, demo

    fixture = Path(args.fixture) if args.fixture else DEMO_FIXTURE
    return demo(_settings(args), fixture, Path(args.out))


def cmd_train(args: argparse.Namespace) -> int:
    from dialogue.seq2seq.train import main as train_dialogue

    return train_dialogue(args.rest)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voicebot", description=__doc__)
    p.add_argument("--config", help="TOML settings file (default: $VOICEBOT_CONFIG)")
    p.add_argument("-v", "--verbose", action="store_true", help="log what the engines do")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("replay", help="replay recorded caller audio through the whole bot")
    r.add_argument("path", help="a fixture .wav or a folder of them")
    r.add_argument("--out", help="folder for <fixture>.reply.wav (the call as the caller heard it) and turns")
    r.add_argument("--report", help="write an HTML report (WER, intent/slot accuracy, latency) here")
    r.add_argument("--json", action="store_true", help="print one JSON object per caller turn")
    r.add_argument("--realtime", action="store_true", help="feed audio at wall-clock speed (default: fast clock)")
    r.add_argument("--crm", help="SQLAlchemy URL of the CRM to use (default: a throwaway demo CRM)")
    r.add_argument("--asr", help="recognizer: whisper-tiny, whisper-base, vosk")
    r.add_argument("--voice", help="bot voice: hibari, piper-joe, coqui")
    r.set_defaults(func=cmd_replay)

    d = sub.add_parser("demo", help="a real SIP call on 127.0.0.1: a recorded customer calls the bot")
    d.add_argument("--fixture", help="the customer's side of the call (default: an order-status call)")
    d.add_argument("--out", default="out/demo", help="where the caller's recording goes")
    d.add_argument("--crm", help="SQLAlchemy URL of the CRM (default from settings; demo data if empty)")
    d.set_defaults(func=cmd_demo)

    s = sub.add_parser("serve", help="answer SIP calls")
    s.add_argument("--bind", help="address to listen on (default 127.0.0.1, [sip] bind)")
    s.add_argument("--port", type=int, help="SIP port (default 5060)")
    s.add_argument("--transport", choices=["udp", "tcp", "tls"])
    s.add_argument("--allow", help="comma-separated CIDRs allowed to call (default 127.0.0.0/8)")
    s.add_argument("--workers", type=int, default=1, help="worker processes behind a Kamailio dispatcher")
    s.add_argument("--crm", help="SQLAlchemy URL of the CRM")
    s.set_defaults(func=cmd_serve)

    o = sub.add_parser("call", help="place an outbound customer-care call")
    o.add_argument("uri", help="who to call, e.g. sip:alice@127.0.0.1:5062")
    o.add_argument("--order", help="follow up on this order number")
    o.add_argument("--ticket", help="follow up on this ticket number")
    o.add_argument("--crm", help="SQLAlchemy URL of the CRM")
    o.set_defaults(func=cmd_call)

    c = sub.add_parser("crm", help="the CRM store: load demo data, read tickets and calls")
    c.add_argument("action", choices=["load-demo", "tickets", "interactions", "notifications"])
    c.add_argument("--crm", help="SQLAlchemy URL (default from settings)")
    c.add_argument("--limit", type=int, default=20)
    c.add_argument("--turns", action="store_true", help="interactions: show what was said, turn by turn")
    c.set_defaults(func=cmd_crm)

    t = sub.add_parser("train", help="train a model: `voicebot train dialogue --help`")
    t.add_argument("model", choices=["dialogue"])
    t.add_argument("rest", nargs=argparse.REMAINDER, help="options for the trainer")
    t.set_defaults(func=cmd_train)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except SettingsError as e:
        print(f"voicebot: settings: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        # Errors meant for the operator (a missing model, a bad SIP setting, a call not answered) are one line.
        if type(e).__name__ in OPERATOR_ERRORS:
            print(f"voicebot: {e}", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
