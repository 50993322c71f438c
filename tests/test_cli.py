"""The `voicebot` command line as the service team and QA meet it: clear answers, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def voicebot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voicebot", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env=env)


def test_service_team_reads_tickets_and_notifications(tmp_path: Path) -> None:
    crm = f"sqlite:///{tmp_path}/crm.db"
    assert voicebot("crm", "load-demo", "--crm", crm).returncode == 0
    tickets = voicebot("crm", "tickets", "--crm", crm)
    assert tickets.returncode == 0
    assert "#1001 [open] damaged → returns" in tickets.stdout and "(order 567)" in tickets.stdout
    notes = voicebot("crm", "notifications", "--crm", crm)
    assert "returns" in notes.stdout and "logistics" in notes.stdout


def test_replay_of_a_missing_path_is_one_line(tmp_path: Path) -> None:
    res = voicebot("replay", str(tmp_path / "nope.wav"))
    assert res.returncode == 2
    assert res.stderr.strip() == f"voicebot replay: {tmp_path / 'nope.wav'}: no such file or directory"


def test_a_bad_setting_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "voicebot.toml"
    cfg.write_text('[turns]\nend_silence_msec = 300\n')
    res = voicebot("--config", str(cfg), "crm", "tickets", "--crm", f"sqlite:///{tmp_path}/crm.db")
    assert res.returncode == 2
    assert "end_silence_msec" in res.stderr and "end_silence_ms" in res.stderr and len(res.stderr.splitlines()) == 1


def test_vosk_without_a_model_folder_says_where_to_get_one(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "VOICEBOT_ASR_ENGINE": "vosk", "VOICEBOT_CRM_URL": f"sqlite:///{tmp_path}/crm.db"}
    res = voicebot("replay", str(ROOT / "audio_fixtures" / "order_status_4567.wav"), env=env)
    assert res.returncode == 2
    assert "model_dir" in res.stderr and "vosk" in res.stderr and "Traceback" not in res.stderr


def test_calling_something_that_is_not_a_sip_uri_fails_at_once(tmp_path: Path) -> None:
    res = voicebot("call", "alice at the office", "--crm", f"sqlite:///{tmp_path}/crm.db")
    assert res.returncode == 2
    assert "not a SIP URI" in res.stderr and len(res.stderr.splitlines()) == 1, res.stderr
    assert not (tmp_path / "crm.db").exists()  # refused before anything loaded


def test_workers_refuse_a_transport_the_dispatcher_cannot_carry(tmp_path: Path) -> None:
    res = voicebot("serve", "--workers", "2", "--transport", "tcp", "--crm", f"sqlite:///{tmp_path}/crm.db")
    assert res.returncode == 2
    assert "UDP only" in res.stderr and len(res.stderr.splitlines()) == 1, res.stderr
