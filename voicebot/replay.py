"""QA replay: recorded caller audio through the whole bot, one fixture after another.

Each fixture is a WAV of the caller's side (plus an optional `<name>.json` sidecar with what was said and
what should be understood). A fixture that cannot be read is reported on one line and the run goes on.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicebot.clock import Clock, FastClock
from voicebot.config import Settings
from voicebot.engines import Engines
from voicebot.file_transport import FileTransport
from voicebot.pcm import AudioFileError
from voicebot.session import CallResult, CallSession

log = logging.getLogger(__name__)


@dataclass
class FixtureRun:
    name: str
    path: Path
    expected: dict[str, Any] = field(default_factory=dict)
    result: CallResult | None = None
    error: str | None = None
    audio_s: float = 0.0
    wall_s: float = 0.0
    heard_path: Path | None = None

    def turn_json(self) -> list[dict[str, Any]]:
        if self.result is None:
            return []
        return [t.as_json(self.name) for t in self.result.caller_turns]


class FreshCrm:
    """One seeded demo CRM, copied afresh for every fixture: a fixture's results (its ticket numbers, the
    orders it changed) never depend on which fixtures ran before it, so every replay is reproducible."""

    def __init__(self, folder: Path) -> None:
        from crm_store import CrmStore
        from crm_store.demo import load_demo

        self.folder = folder
        self.template = folder / "template.db"
        store = CrmStore.open(f"sqlite:///{self.template}")
        load_demo(store)
        store.close()  # the last connection closing checkpoints the WAL into the file we copy

    def copy(self, name: str) -> Any:
        from crm_store import CrmStore

        target = self.folder / f"{name}.db"
        shutil.copyfile(self.template, target)
        return CrmStore.open(f"sqlite:///{target}")


async def replay_all(
    fixtures: list[Path], engines: Engines, settings: Settings, *, fresh: FreshCrm | None = None,
    realtime: bool = False, out_dir: Path | None = None, progress: bool = False,
) -> list[FixtureRun]:
    """Replay each fixture in turn (with `fresh`, each on its own copy of the demo CRM)."""
    from tqdm import tqdm

    runs = []
    bar = tqdm(fixtures, desc="replay", unit="call", file=sys.stderr, disable=not progress or len(fixtures) < 2)
    for wav in bar:
        bar.set_postfix_str(wav.stem)
        store = fresh.copy(wav.stem) if fresh else None
        try:
            used = engines.with_store(store) if store is not None else engines
            runs.append(await replay_fixture(wav, used, settings, realtime=realtime, out_dir=out_dir))
        finally:
            if store is not None:
                store.close()
    return runs


def find_fixtures(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        return sorted(q for q in p.iterdir() if q.suffix.lower() == ".wav")
    return [p]


def read_sidecar(wav: Path) -> dict[str, Any]:
    side = wav.with_suffix(".json")
    if not side.exists():
        return {}
    try:
        data = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise AudioFileError(f"{side}: unreadable sidecar ({e})") from None
    return data if isinstance(data, dict) else {}


async def replay_fixture(
    wav: Path, engines: Engines, settings: Settings, realtime: bool = False, out_dir: Path | None = None
) -> FixtureRun:
    import time

    run = FixtureRun(name=wav.stem, path=wav)
    t0 = time.perf_counter()
    try:
        run.expected = read_sidecar(wav)
        transport = FileTransport(wav, caller_id=run.expected.get("caller_id"))
    except AudioFileError as e:
        run.error = str(e)
        return run
    run.audio_s = transport.duration_s
    clock: Clock = Clock() if realtime else FastClock()
    try:
        run.result = await CallSession(transport, engines, settings, clock).run()
    except Exception as e:  # one broken call must not stop a directory replay
        log.exception("replay of %s failed", wav)
        run.error = f"{wav}: replay failed ({type(e).__name__}: {e})"
        return run
    finally:
        run.wall_s = time.perf_counter() - t0
    if out_dir is not None:
        run.heard_path = out_dir / f"{run.name}.reply.wav"
        transport.write_heard(run.heard_path)
        (out_dir / f"{run.name}.turns.json").write_text(json.dumps(run.turn_json(), indent=1))
    return run


def describe_turns(run: FixtureRun) -> str:
    """The human-readable transcript of one replayed call."""
    if run.error:
        return f"{run.name}: ERROR {run.error}"
    assert run.result is not None
    lines = [f"== {run.name} ({run.audio_s:.1f} s of audio, replayed in {run.wall_s:.1f} s)"]
    for t in run.result.turns:
        if t.turn == 0:
            lines.append(f"  bot (greeting): {t.reply}")
            continue
        when = f"{t.start_s:.2f}-{t.end_s:.2f} s" if t.start_s is not None else ""
        lines.append(f"  turn {t.turn} {when}")
        if t.transcript:
            lines.append(f"    caller: {t.transcript}")
        slots = " ".join(f"{k}={v}" for k, v in t.slots.items())
        mood = f" (sentiment {t.sentiment:+.2f})" if t.sentiment is not None else ""
        lines.append(f"    intent: {t.intent or '-'} {slots}".rstrip() + mood)
        note = " [interrupted]" if t.interrupted else ""
        conf = f" {t.confidence:.2f}" if t.confidence is not None else ""
        lines.append(f"    bot ({t.generator or '-'}{conf}): {t.reply}{note}")
        ms = {k: v for k, v in t.timings_ms.items() if v is not None}
        if ms:
            lines.append("    ms: " + ", ".join(f"{k} {v:.0f}" for k, v in ms.items()))
    r = run.result
    lines.append(f"  call ended by {r.ended_by}; outcome {r.outcome}; interaction #{r.interaction_id}")
    if run.heard_path:
        lines.append(f"  audio: {run.heard_path}")
    return "\n".join(lines)
