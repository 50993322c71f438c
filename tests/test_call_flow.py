"""Call mechanics on the file transport: turn-taking, barge-in, the greeting, silence, bad files.

Caller audio is real speech (the packaged neural voice) so the real VAD decides the turns. The engines
behind it are small fakes here — these tests are about when the bot speaks and stops; the same flows run
on the real engines in test_replay.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from call_fakes import RATE, FakeConversation, build_call, run_call, speaking_spans

from voicebot.config import Settings
from voicebot.file_transport import FileTransport
from voicebot.pcm import AudioFileError, resample


def test_bot_answers_after_the_caller_stops(tmp_path: Path, speech: np.ndarray) -> None:
    wav = build_call(tmp_path / "call.wav", [(3.0, speech)], 12.0)
    conv = FakeConversation(greeting_words=2, reply_words=4)
    result, bot, asr = run_call(wav, conv)
    assert conv.said == ["utterance 1"]
    turn = result.caller_turns[0]
    speech_end = 3.0 + len(speech) / RATE
    assert abs(turn.start_s - 3.0) < 0.4 and abs(turn.end_s - speech_end) < 0.5
    spans = speaking_spans(bot)
    assert spans[0][0] < 0.5  # the greeting starts at once
    answer = spans[1]
    assert answer[0] > turn.end_s  # never talks over the caller
    assert answer[0] - turn.end_s < 1.5
    assert abs((answer[1] - answer[0]) - 2.0) < 0.1  # the whole 4-word answer was played
    assert result.ended_by == "input ended" and conv.closed


def test_barge_in_stops_the_bot_within_a_frame(tmp_path: Path, speech: np.ndarray) -> None:
    # The answer is 10 s long; the caller speaks again 2 s into it.
    first_end = 2.0 + len(speech) / RATE
    wav = build_call(tmp_path / "barge.wav", [(2.0, speech), (first_end + 3.0, speech)], 30.0)
    conv = FakeConversation(greeting_words=1, reply_words=20)
    result, bot, _ = run_call(wav, conv)
    first, second = result.caller_turns[:2]
    assert first.interrupted and not second.interrupted
    spans = speaking_spans(bot)
    cut = [s for s in spans if s[0] > first.end_s][0]
    # The caller's voice started at second.start_s; the bot stopped once barge_in_ms of it was heard.
    detect = second.start_s + Settings().turns.barge_in_ms / 1000
    assert cut[1] <= detect + 0.1
    assert conv.said == ["utterance 1", "utterance 2"]


def test_the_greeting_cannot_be_interrupted(tmp_path: Path, speech: np.ndarray) -> None:
    # The caller talks 0.5 s into a 4 s greeting (as line echo would): the greeting plays out, no turn.
    wav = build_call(tmp_path / "echo.wav", [(0.5, speech[: RATE * 2])], 10.0)
    conv = FakeConversation(greeting_words=8, reply_words=2)
    result, bot, _ = run_call(wav, conv)
    assert speaking_spans(bot)[0][1] >= 3.9
    assert conv.said == [] and result.caller_turns == []


def test_silent_caller_is_prompted_then_the_bot_hangs_up(tmp_path: Path) -> None:
    wav = build_call(tmp_path / "silent.wav", [], 40.0)
    conv = FakeConversation(greeting_words=1, reply_words=1)
    result, _, _ = run_call(wav, conv)
    assert conv.silences == 2
    assert result.ended_by == "bot"
    assert result.duration_s < 25


def test_fast_clock_replays_faster_than_real_time(tmp_path: Path, speech: np.ndarray) -> None:
    import time

    wav = build_call(tmp_path / "fast.wav", [(2.0, speech)], 20.0)
    t = time.perf_counter()
    run_call(wav, FakeConversation(1, 2))
    assert time.perf_counter() - t < 10.0  # 20 s of call audio


@pytest.mark.parametrize(
    "content,reason",
    [(b"", "empty file"), (b"RIFF\x00\x00\x00\x00WAVEjunkjunk", "not a readable audio file"),
     (b"hello, this is a text file", "not a readable audio file")],
)
def test_bad_wav_gives_one_line_error_naming_the_file(tmp_path: Path, content: bytes, reason: str) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    with pytest.raises(AudioFileError) as err:
        FileTransport(bad)
    msg = str(err.value)
    assert str(bad) in msg and reason in msg and "\n" not in msg


def test_any_wav_format_is_converted_once(tmp_path: Path, speech: np.ndarray) -> None:
    import soundfile as sf

    x8 = resample(speech, RATE, 8000)
    sf.write(tmp_path / "u8.wav", np.stack([x8, x8], axis=1), 8000, subtype="PCM_U8")
    sf.write(tmp_path / "f32.wav", resample(speech, RATE, 44100), 44100, subtype="FLOAT")
    for name in ("u8.wav", "f32.wav"):
        t = FileTransport(tmp_path / name)
        assert abs(t.duration_s - len(speech) / RATE) < 0.05


def test_recognition_starts_before_the_endpoint_and_is_used_when_the_caller_stays_quiet(
    tmp_path: Path, speech: np.ndarray
) -> None:
    wav = build_call(tmp_path / "one.wav", [(2.0, speech)], 10.0)
    conv = FakeConversation(greeting_words=1, reply_words=2)
    result, _, asr = run_call(wav, conv)
    assert len(asr.heard) == 1 and conv.said == ["utterance 1"]  # one decode, started early, and used
    assert result.caller_turns[0].asr_wait_ms < 50


def test_a_pause_mid_sentence_drops_the_early_guess(tmp_path: Path, speech: np.ndarray) -> None:
    # 300 ms of silence inside the turn: past the speculative start (200 ms), short of the 400 ms endpoint.
    half = len(speech) // 2
    wav = build_call(tmp_path / "pause.wav", [(2.0, speech[:half]), (2.0 + half / RATE + 0.3, speech[half:])], 12.0)
    conv = FakeConversation(greeting_words=1, reply_words=2)
    result, _, asr = run_call(wav, conv)
    assert len(result.caller_turns) == 1 and len(asr.heard) >= 2  # an early decode happened at the pause
    assert conv.said == [f"utterance {len(asr.heard)}"]  # the answer is from the last, whole-turn decode
    assert abs(asr.heard[-1] - len(speech) / RATE) < 0.6  # ... which heard the whole sentence
