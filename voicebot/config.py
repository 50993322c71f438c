"""Settings: defaults that run offline, overridden by a TOML file and `VOICEBOT_<SECTION>_<KEY>` variables.

    [crm]        url = "sqlite:///var/voicebot.db"
    [asr]        engine = "whisper-tiny"   # whisper-tiny | whisper-base | vosk
    [tts]        voice = "hibari"          # hibari | piper-joe | coqui
    [turns]      end_silence_ms = 400
    [dialogue]   transfer_target = "sip:agent@127.0.0.1:5080"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from voicebot.processors.turns import TurnSettings


@dataclass
class CrmSettings:
    url: str = "sqlite:///var/voicebot.db"


@dataclass
class AsrSettings:
    engine: str = "whisper-tiny"
    device: str = "auto"
    threads: int = 2
    language: str = "en"
    model_dir: str = ""  # vosk: the user-supplied model folder
    window_s: float = 20.0  # Whisper encoder window: 20 s is ~1.7x faster than 30 s at the same WER
    workers: int = 1  # turns decoded in parallel; 2 (with threads = 1) serves concurrent calls faster


@dataclass
class TtsSettings:
    voice: str = "hibari"
    threads: int = 1
    model_path: str = ""  # coqui: operator checkpoint or Piper-format ONNX
    config_path: str = ""


@dataclass
class DialogueSettings:
    generator: str = "seq2seq"  # seq2seq | template
    company: str = "Acme"
    transfer_target: str = ""  # SIP URI of the human queue; empty = offer a callback instead


@dataclass
class CallSettings:
    max_call_s: float = 900.0  # a safety net: the bot hangs up a call that runs longer


@dataclass
class Settings:
    crm: CrmSettings = field(default_factory=CrmSettings)
    asr: AsrSettings = field(default_factory=AsrSettings)
    tts: TtsSettings = field(default_factory=TtsSettings)
    turns: TurnSettings = field(default_factory=TurnSettings)
    dialogue: DialogueSettings = field(default_factory=DialogueSettings)
    call: CallSettings = field(default_factory=CallSettings)
    extra: dict[str, Any] = field(default_factory=dict)  # sections other components own (e.g. [sip])


class SettingsError(ValueError):
    pass


GENERATORS = ("seq2seq", "template")
OTHER_SECTIONS = ("sip",)  # owned by telephony/ (SipSettings checks them); VOICEBOT_SIP_PORT=5070 works too
NOT_SETTINGS = {"VOICEBOT_CONFIG", "VOICEBOT_CACHE"}


def _apply(obj: Any, section: str, values: dict[str, Any]) -> None:
    known = {f.name: f for f in fields(obj)}
    for key, value in values.items():
        if key not in known:
            raise SettingsError(f"[{section}] has no setting {key!r}; known: {', '.join(sorted(known))}")
        current = getattr(obj, key)
        if isinstance(current, bool):
            value = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
        elif isinstance(current, int | float) and isinstance(value, str):
            try:
                value = type(current)(value)
            except ValueError:
                raise SettingsError(f"[{section}] {key} must be a number, got {value!r}") from None
        setattr(obj, key, value)


def load_settings(path: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Defaults, then the TOML file (VOICEBOT_CONFIG or `path`), then environment variables."""
    env = dict(os.environ if env is None else env)
    settings = Settings()
    path = path or env.get("VOICEBOT_CONFIG")
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise SettingsError(f"{path}: {e}") from None
    for section, values in data.items():
        target = getattr(settings, section, None)
        if is_dataclass(target) and isinstance(values, dict):
            _apply(target, section, values)
        else:
            settings.extra[section] = values
    for name, value in env.items():
        if not name.startswith("VOICEBOT_") or name in NOT_SETTINGS or name.count("_") < 2:
            continue
        section, key = name[len("VOICEBOT_") :].lower().split("_", 1)
        target = getattr(settings, section, None)
        if is_dataclass(target):
            _apply(target, section, {key: value})  # an unknown key is an error, as in the file
        elif section in OTHER_SECTIONS:
            settings.extra.setdefault(section, {})[key] = _env_value(value)
    check_settings(settings)
    return settings


def _env_value(text: str) -> Any:
    """`5070` → 5070, `["10.0.0.0/8"]` → a list, `true` → True; anything else stays text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def check_settings(s: Settings) -> None:
    """Refuse at start-up what would otherwise fail on every call, after it was answered."""
    from asr import ENGINES
    from tts import VOICES

    rules = [
        (s.asr.engine in ENGINES, f"[asr] engine {s.asr.engine!r}: choose one of {', '.join(ENGINES)}"),
        (s.tts.voice in VOICES, f"[tts] voice {s.tts.voice!r}: choose one of {', '.join(VOICES)}"),
        (s.dialogue.generator in GENERATORS,
         f"[dialogue] generator {s.dialogue.generator!r}: choose one of {', '.join(GENERATORS)}"),
        (0 <= s.turns.vad_aggressiveness <= 3, "[turns] vad_aggressiveness must be 0, 1, 2 or 3"),
        (s.turns.end_silence_ms >= 100, "[turns] end_silence_ms must be at least 100"),
        (s.turns.barge_in_ms >= 20, "[turns] barge_in_ms must be at least 20"),
        (s.turns.no_input_s > 0, "[turns] no_input_s must be > 0"),
        (s.asr.threads >= 1 and s.asr.workers >= 1, "[asr] threads and workers must be at least 1"),
        (s.call.max_call_s > 0, "[call] max_call_s must be > 0"),
    ]
    for ok, message in rules:
        if not ok:
            raise SettingsError(message)
