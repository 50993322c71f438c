"""Vosk (Kaldi) streaming recognizer over a model folder the operator supplies.

No English vosk model is on PyPI or in Debian, so voicebot cannot ship one: the operator downloads one
(e.g. vosk-model-small-en-us-0.15 from https://alphacephei.com/vosk/models), unpacks it and points
`[asr] model_dir` (or VOICEBOT_ASR_MODEL_DIR) at the folder. Vosk is fed every 20 ms frame while the
caller speaks, so the final text is ready almost as soon as the turn ends; partials help barge-in.
"""

from __future__ import annotations

import json
import threading
import weakref
from pathlib import Path

from asr.base import ModelMissing, Recognition, Recognizer, RecognizerCapabilities, RecognizerStream

_GET_MODEL = (
    "no English vosk model is on PyPI or Debian: download one (e.g. vosk-model-small-en-us-0.15 from "
    "https://alphacephei.com/vosk/models), unpack it, and set [asr] model_dir (VOICEBOT_ASR_MODEL_DIR) "
    "to that folder"
)
_ACOUSTIC_MODEL = ("am/final.mdl", "final.mdl")  # current layout; the oldest models keep it at the top


def check_vosk_model_dir(model_dir: str | Path | None) -> Path:
    """The model folder if it looks like a vosk model; ModelMissing saying how to get one otherwise."""
    if not model_dir:
        raise ModelMissing(f"the vosk engine needs model_dir; {_GET_MODEL}")
    folder = Path(model_dir).expanduser()
    if not folder.is_dir():
        raise ModelMissing(f"vosk model folder {folder} does not exist; {_GET_MODEL}")
    if not any((folder / name).is_file() for name in _ACOUSTIC_MODEL):
        raise ModelMissing(f"{folder} is not a vosk model folder (no am/final.mdl); {_GET_MODEL}")
    return folder


class VoskStream(RecognizerStream):
    """One caller turn at a time; `finish()` returns the turn's text and resets for the next turn."""

    def __init__(self, kaldi: object, language: str | None = None) -> None:
        self._rec = kaldi  # a vosk.KaldiRecognizer, owned by this stream until it is garbage-collected
        self.language = language
        self._done: list[dict] = []  # utterances vosk closed itself (at its own endpoints) mid-turn
        self._odd = b""

    def accept(self, pcm: bytes) -> str | None:
        data = self._odd + bytes(pcm)
        cut = len(data) - len(data) % 2  # keep samples whole even if a caller splits one across calls
        data, self._odd = data[:cut], data[cut:]
        if not data:
            return None
        if self._rec.AcceptWaveform(data):
            self._done.append(json.loads(self._rec.Result()))
            partial = ""
        else:
            partial = json.loads(self._rec.PartialResult()).get("partial", "")
        text = " ".join(t for t in [*(d.get("text", "") for d in self._done), partial] if t)
        return text or None

    def finish(self) -> Recognition:
        results = [*self._done, json.loads(self._rec.FinalResult())]
        self._rec.Reset()
        self._done, self._odd = [], b""
        text = " ".join(r.get("text", "") for r in results if r.get("text"))
        confs = [w["conf"] for r in results for w in r.get("result", []) if "conf" in w]
        return Recognition(text, sum(confs) / len(confs) if confs else None, self.language)


class VoskRecognizer(Recognizer):
    """Thread-safe: every stream gets its own Kaldi recognizer, recycled through a pool when the stream
    is dropped (creating one costs ~70 ms with the Korean model, too much at every caller's speech onset)."""

    def __init__(self, model_dir: str | Path | None, *, language: str = "en") -> None:
        import vosk

        folder = check_vosk_model_dir(model_dir)
        vosk.SetLogLevel(-1)  # Kaldi logs every load step to stderr
        try:
            self._model = vosk.Model(str(folder))
        except Exception as e:  # vosk raises a bare Exception("Failed to create a model")
            raise ModelMissing(f"vosk could not load {folder} ({e}); {_GET_MODEL}") from None
        self.language = language
        self._lock = threading.Lock()
        self._idle: dict[int, list[object]] = {}  # sample rate -> Kaldi recognizers no stream holds
        self.capabilities = RecognizerCapabilities(
            name="vosk", streaming=True, sample_rates=(16000, 8000), languages=(language,), device="cpu"
        )

    def stream(self, sample_rate: int = 16000) -> RecognizerStream:
        if not isinstance(sample_rate, int) or not 8000 <= sample_rate <= 48000:
            raise ValueError(f"sample_rate must be an integer between 8000 and 48000 Hz, got {sample_rate!r}")
        with self._lock:
            pool = self._idle.setdefault(sample_rate, [])
            kaldi = pool.pop() if pool else None
        if kaldi is None:
            import vosk

            kaldi = vosk.KaldiRecognizer(self._model, sample_rate)
            kaldi.SetWords(True)  # per-word confidences
        s = VoskStream(kaldi, self.language)
        weakref.finalize(s, self._recycle, kaldi, sample_rate).atexit = False
        return s

    def _recycle(self, kaldi: object, sample_rate: int) -> None:
        # The stream may have been dropped mid-turn (caller hung up). Reset() alone keeps the pending
        # utterance (vosk 0.3.45): it leaks into the next turn unless FinalResult() flushes it first.
        kaldi.FinalResult()
        kaldi.Reset()
        with self._lock:
            self._idle.setdefault(sample_rate, []).append(kaldi)

    def transcribe(self, pcm: bytes, sample_rate: int = 16000) -> Recognition:
        if len(pcm) % 2:
            raise ValueError(f"audio must be 16-bit PCM: odd byte count {len(pcm)}")
        s = self.stream(sample_rate)
        for i in range(0, len(pcm), 8000):
            s.accept(pcm[i : i + 8000])
        return s.finish()

    def warm_up(self) -> None:
        self.transcribe(b"\0\0" * 1600)  # also leaves one Kaldi recognizer in the pool for the first call
