"""`voicebot` command line: replay fixtures, run the phone line, look at the CRM."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
from pathlib import Path

from voicebot.config import Settings, SettingsError, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    if getattr(args, "crm", None):
        settings.crm.url = args.crm
    for name in ("asr", "voice"):
        value = getattr(args, name, None)
        if value and name == "asr":
            settings.asr.engine = value
        elif value:
            settings.tts.voice = value
    return settings


def cmd_replay(args: argparse.Namespace) -> int:
    from voicebot.engines import Engines
    from voicebot.replay import describe_turns, find_fixtures, replay_fixture
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
        if not args.crm:
            # A throwaway demo CRM: replays are reproducible and never touch the production store.
            settings.crm.url = f"sqlite:///{tmp}/replay.db"
        engines = Engines.load(settings)
        runs = asyncio.run(_replay_all(fixtures, engines, settings, args, out_dir, replay_fixture))
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


async def _replay_all(fixtures, engines, settings, args, out_dir, replay_fixture):  # noqa: ANN001, ANN202
    from tqdm import tqdm

    runs = []
    bar = tqdm(fixtures, desc="replay", unit="call", file=sys.stderr, disable=len(fixtures) < 2)
    for wav in bar:
        bar.set_postfix_str(wav.stem)
        runs.append(await replay_fixture(wav, engines, settings, realtime=args.realtime, out_dir=out_dir))
    return runs


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
            if args.verbose:
                for t in i.turns:
                    print(f"    caller: {t.transcript}\n    bot [{t.intent}]: {t.reply}")
    elif args.action == "notifications":
        for n in store.notifications():
            print(f"{n.created_at:%Y-%m-%d %H:%M} to {n.team}: {n.message}")
    store.close()
    return 0


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

    c = sub.add_parser("crm", help="the CRM store: load demo data, read tickets and calls")
    c.add_argument("action", choices=["load-demo", "tickets", "interactions", "notifications"])
    c.add_argument("--crm", help="SQLAlchemy URL (default from settings)")
    c.add_argument("--limit", type=int, default=20)
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
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
