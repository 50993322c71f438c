"""Command line for the CRM database.

    python -m crm_store upgrade [URL]          create / migrate the database to the newest schema
    python -m crm_store demo [URL]             ... and load the demo data set (idempotent)
    python -m crm_store revision "MESSAGE"     autogenerate a migration from changed models (developers)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from crm_store.demo import load_demo
from crm_store.engine import make_engines, parse_url
from crm_store.migrate import autogenerate_revision, upgrade_to_head
from crm_store.store import DEFAULT_URL, CrmStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_store", description="CRM database tools")
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name, text in (("upgrade", "migrate a database to the newest schema"), ("demo", "load demo data")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("url", nargs="?", default=DEFAULT_URL, help=f"database URL (default {DEFAULT_URL})")
    rev = sub.add_parser("revision", help="write a migration for model changes (diffs a scratch DB at head)")
    rev.add_argument("message")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "revision":
            with tempfile.TemporaryDirectory() as scratch:
                _, engine = make_engines(parse_url(f"sqlite:///{Path(scratch) / 'scratch.db'}"))
                upgrade_to_head(engine)
                autogenerate_revision(engine, args.message)
                engine.dispose()
            return 0
        store = CrmStore.open(args.url)
        if args.cmd == "demo":
            load_demo(store)
        print(f"{store.url}: schema up to date{', demo data loaded' if args.cmd == 'demo' else ''}")
        store.close()
        return 0
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
