"""Developer tool for the CRM schema (operators use `voicebot crm ...`; opening a store migrates it).

    python -m crm_store revision "MESSAGE"     autogenerate a migration from changed models
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from crm_store.engine import make_engines, parse_url
from crm_store.migrate import autogenerate_revision, upgrade_to_head


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_store", description="CRM schema tools for developers")
    sub = parser.add_subparsers(dest="cmd", required=True)
    rev = sub.add_parser("revision", help="write a migration for model changes (diffs a scratch DB at head)")
    rev.add_argument("message")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            _, engine = make_engines(parse_url(f"sqlite:///{Path(scratch) / 'scratch.db'}"))
            upgrade_to_head(engine)
            autogenerate_revision(engine, args.message)
            engine.dispose()
        return 0
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
