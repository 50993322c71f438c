"""QA replay on the real engines, through the `voicebot replay` command a QA engineer runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "audio_fixtures"
pytestmark = pytest.mark.slow


def voicebot(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voicebot", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def transcribe(x: np.ndarray, rate: int) -> str:
    from asr import load_recognizer
    from voicebot.pcm import resample, to_int16

    rec = load_recognizer("whisper-tiny")
    return rec.transcribe(to_int16(resample(x, rate)).tobytes()).text


def test_single_fixture_answers_the_caller_with_the_order_status(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = voicebot("replay", str(FIXTURES / "order_status_4567.wav"), "--out", str(out), "--json")
    assert res.returncode == 0, res.stderr
    (turn,) = [json.loads(line) for line in res.stdout.splitlines()]
    assert set(turn) >= {"fixture", "turn", "start_s", "end_s", "transcript", "intent", "slots", "reply", "timings_ms"}
    assert set(turn["timings_ms"]) >= {"endpoint", "asr", "dialogue", "tts_first_audio"}
    assert turn["fixture"] == "order_status_4567"
    assert turn["intent"] == "order_status" and turn["slots"]["order_number"] == "4567"
    assert "shipped" in turn["reply"].lower()
    assert all(v is not None and v >= 0 for v in turn["timings_ms"].values())

    # The reply WAV is the call as the caller heard it: the bot's answer is audible after the question.
    audio, rate = sf.read(out / "order_status_4567.reply.wav", dtype="float32")
    after = audio[int((turn["end_s"] + 0.2) * rate) :]
    heard = transcribe(after, rate).lower()
    assert "shipped" in heard and ("4567" in heard.replace(" ", "") or "four five six seven" in heard)


def test_directory_replay_reports_and_survives_a_broken_fixture(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    for name in ("order_status_4567", "product_info_headphones"):
        for ext in (".wav", ".json"):
            shutil.copy(FIXTURES / f"{name}{ext}", fixtures / f"{name}{ext}")
    (fixtures / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage")
    report = tmp_path / "report.html"
    res = voicebot("replay", str(fixtures), "--report", str(report))
    assert res.returncode == 1  # one fixture failed, and the exit status says so
    errors = [line for line in res.stderr.splitlines() if "corrupt.wav" in line]
    assert len(errors) == 1 and "not a readable audio file" in errors[0]
    assert "== order_status_4567" in res.stdout and "== product_info_headphones" in res.stdout
    summary = json.loads(res.stdout[res.stdout.rindex("{") - 0 :])
    assert summary["fixtures"] == 3 and summary["errors"] == 1 and summary["turns_scored"] == 2
    assert summary["intent_accuracy"] == 1.0 and summary["wer"] < 0.1
    assert summary["x_realtime"] > 1.0  # the fast clock beats real time
    page = report.read_text()
    assert "data:image/png;base64," in page and "corrupt.wav" in page and "intent accuracy" in page


def test_barge_in_fixture_interrupts_the_bot() -> None:
    res = voicebot("replay", str(FIXTURES / "call_bargein_return_policy.wav"), "--json")
    assert res.returncode == 0, res.stderr
    turns = [json.loads(line) for line in res.stdout.splitlines()]
    assert turns[0]["interrupted"] is True
    assert turns[1]["intent"] and not turns[1]["interrupted"]
