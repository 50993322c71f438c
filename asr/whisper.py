"""Whisper through CTranslate2 with a short encoder window: the default, segmented recognizer.

faster-whisper loads the model (and gives us its mel front end and tokenizer), but its `transcribe` always
pads a turn to 30 s. We call the CTranslate2 model's `encode`/`generate` ourselves with the features padded
to `window_s` (20 s: p50 0.31 s vs 0.56 s per turn, same errors, see DESIGN §4), greedy, with a token cap
from the turn's duration. If the cap is hit or a phrase repeats, the turn is decoded again at 30 s with
beam 5. Turns longer than the window take the 30 s path directly, in 30 s pieces if need be.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.base import Recognition, Recognizer, RecognizerCapabilities
from asr.whisper_window import (
    collapse_loops,
    frame_rms_dbfs,
    has_loop,
    pad_features,
    split_long_turn,
    token_cap,
)
from voicebot.pcm import resample

log = logging.getLogger(__name__)

RATE = 16000
FULL_WINDOW_S = 30


@dataclass(frozen=True)
class _Pass:
    tokens: list[int]
    avg_logprob: float  # mean log-probability per token, end-of-text included
    no_speech_prob: float
    cap_hit: bool
    language: str


class WhisperRecognizer(Recognizer):
    """Segmented Whisper recognizer; thread-safe (one model, many calls).

    window_s: encoder window for turns that fit in it (frames padded to window_s * 100).
    beam_size: beam for that first pass; fallback_beam_size for the 30 s pass taken by longer turns and
        by turns whose first pass hit the token cap or repeated itself.
    min_speech_dbfs: a turn whose loudest 20 ms frame is quieter than this is silence, not decoded.
    no_speech_threshold: Whisper's own rule: no-speech probability above it with a mean token
        log-probability below -1 means the turn held no speech.
    workers: CTranslate2 inter_threads, i.e. turns decoded in parallel (each with `threads` threads).
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        name: str,
        device: str = "auto",
        threads: int = 2,
        language: str = "en",
        window_s: float = 20.0,
        beam_size: int = 1,
        fallback_beam_size: int = 5,
        min_speech_dbfs: float = -55.0,
        no_speech_threshold: float = 0.6,
        workers: int = 1,
        compute_type: str | None = None,
    ) -> None:
        import ctranslate2
        from faster_whisper import WhisperModel

        for label, number in (("window_s", window_s), ("min_speech_dbfs", min_speech_dbfs),
                              ("no_speech_threshold", no_speech_threshold)):
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise ValueError(f"{label} must be a number, got {number!r}")
        if not 1.0 <= window_s <= FULL_WINDOW_S:
            raise ValueError(f"window_s must be between 1 and {FULL_WINDOW_S} seconds, got {window_s}")
        for label, value in (("beam_size", beam_size), ("fallback_beam_size", fallback_beam_size),
                             ("threads", threads), ("workers", workers)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{label} must be a positive integer, got {value!r}")
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
        if device == "cuda" and ctranslate2.get_cuda_device_count() == 0:
            raise ValueError("device 'cuda' asked for, but CTranslate2 sees no CUDA device; use auto or cpu")
        compute_type = compute_type or ("float16" if device == "cuda" else "int8")

        self.model = WhisperModel(
            str(model_dir), device=device, compute_type=compute_type, cpu_threads=threads, num_workers=workers
        )
        self._ct2 = self.model.model
        self._multilingual = bool(self._ct2.is_multilingual)
        languages = tuple(self.model.supported_languages)
        if language != "auto" and language not in languages:
            hint = "" if self._multilingual else " (this model is English-only; use whisper-base)"
            raise ValueError(f"{name} does not support language {language!r}{hint}")
        if language == "auto" and not self._multilingual:
            language = "en"
        self.language = language
        self.window_frames = int(round(window_s * 100))
        self.beam_size = beam_size
        self.fallback_beam_size = fallback_beam_size
        self.min_speech_dbfs = min_speech_dbfs
        self.no_speech_threshold = no_speech_threshold
        self.fallbacks = 0  # turns the loop guard sent back through the 30 s window (a health metric)
        self._tokenizers: dict[str, object] = {}
        self.capabilities = RecognizerCapabilities(
            name=name,
            streaming=False,
            sample_rates=(16000, 8000),  # any rate is resampled; these are the ones the phone side uses
            languages=languages,
            device=device,
        )

    # --- public -------------------------------------------------------------------------------------

    def transcribe(self, pcm: bytes, sample_rate: int = RATE) -> Recognition:
        audio = pcm_to_float(pcm, sample_rate)
        pieces = [p for p in split_long_turn(audio, RATE, FULL_WINDOW_S) if self._audible(p)]
        if not pieces:  # silence never reaches the decoder: it is where Whisper invents "Thank you."
            return Recognition("", None, None if self.language == "auto" else self.language)
        passes = [self._decode_turn(piece) for piece in pieces]
        texts = []
        logprobs: list[float] = []
        for p in passes:
            text = self._text(p)
            if text:
                texts.append(text)
                logprobs.append(p.avg_logprob)
        text = " ".join(texts)
        confidence = math.exp(sum(logprobs) / len(logprobs)) if logprobs else None
        return Recognition(text, confidence, passes[0].language)

    def warm_up(self) -> None:
        """One tiny decode through the short window (bypassing the silence gate)."""
        tone = 0.1 * np.sin(2 * np.pi * 220 * np.arange(RATE // 2) / RATE).astype(np.float32)
        self._decode(tone, self.window_frames, self.beam_size, 4)

    # --- decoding -----------------------------------------------------------------------------------

    def _audible(self, audio: np.ndarray) -> bool:
        return len(audio) > 0 and float(frame_rms_dbfs(audio, RATE).max()) >= self.min_speech_dbfs

    def _decode_turn(self, audio: np.ndarray) -> _Pass:
        cap = token_cap(len(audio) / RATE)
        full = FULL_WINDOW_S * 100
        guard = (full, self.fallback_beam_size)
        fits = self._frames_needed(audio) <= self.window_frames
        first = (self.window_frames, self.beam_size) if fits else guard
        p = self._decode(audio, *first, cap)
        if first == guard or not (p.cap_hit or has_loop(p.tokens)):
            return self._unloop(p)
        if p.no_speech_prob > self.no_speech_threshold and not self._text(p, no_speech_rule=False):
            return p  # noise looping on " . . .": nothing the 30 s pass could turn into words
        log.debug("window %d looped (%d tokens, cap %d): retrying at 30 s", first[0], len(p.tokens), cap)
        self.fallbacks += 1
        return self._unloop(self._decode(audio, *guard, cap))

    @staticmethod
    def _unloop(p: _Pass) -> _Pass:
        """A decode that ran into the token cap even at 30 s is a runaway loop: keep one copy of it."""
        if not p.cap_hit:
            return p
        return _Pass(collapse_loops(p.tokens), p.avg_logprob, p.no_speech_prob, True, p.language)

    def _frames_needed(self, audio: np.ndarray) -> int:
        return len(audio) // self.model.feature_extractor.hop_length + 1

    def _decode(self, audio: np.ndarray, frames: int, beam_size: int, cap: int) -> _Pass:
        import ctranslate2

        features = self.model.feature_extractor(audio)  # no chunk_length: leaves the shared extractor alone
        encoded = self._ct2.encode(ctranslate2.StorageView.from_array(pad_features(features, frames)))
        language = self.language
        if language == "auto":
            language = self._ct2.detect_language(encoded)[0][0][0].strip("<|>")
        tokenizer = self._tokenizer(language)
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        result = self._ct2.generate(
            encoded,
            [prompt],
            beam_size=beam_size,
            max_length=2 * cap + 1,  # CTranslate2 generates at most max_length // 2 Whisper tokens
            return_scores=True,
            return_no_speech_prob=True,
        )[0]
        tokens = list(result.sequences_ids[0])
        n = len(tokens)
        # The score is the summed log-probability (end-of-text included) divided by n; average over n + 1.
        avg = result.scores[0] * n / (n + 1) if result.scores else 0.0
        return _Pass(tokens, avg, float(result.no_speech_prob), n >= cap, language)

    def _tokenizer(self, language: str):  # faster_whisper.tokenizer.Tokenizer
        tok = self._tokenizers.get(language)
        if tok is None:
            from faster_whisper.tokenizer import Tokenizer

            tok = Tokenizer(self.model.hf_tokenizer, self._multilingual, task="transcribe", language=language)
            self._tokenizers[language] = tok
        return tok

    def _text(self, p: _Pass, no_speech_rule: bool = True) -> str:
        if no_speech_rule and p.no_speech_prob > self.no_speech_threshold and p.avg_logprob < -1.0:
            return ""
        text = self._tokenizer(p.language).decode(p.tokens).strip()
        # On noise the decoder emits " . . ." or similar: no letter or digit means nothing was said.
        return text if any(ch.isalnum() for ch in text) else ""


def pcm_to_float(pcm: bytes, sample_rate: int) -> np.ndarray:
    """16-bit mono PCM bytes at any rate -> float32 at 16 kHz; one-line ValueError on bad input."""
    if not isinstance(pcm, bytes | bytearray | memoryview):
        raise ValueError(f"audio must be 16-bit PCM bytes, got {type(pcm).__name__}")
    if len(pcm) % 2:
        raise ValueError(f"audio must be 16-bit PCM: odd byte count {len(pcm)}")
    if not isinstance(sample_rate, int) or not 4000 <= sample_rate <= 192000:
        raise ValueError(f"sample_rate must be an integer between 4000 and 192000 Hz, got {sample_rate!r}")
    x = np.frombuffer(bytes(pcm), dtype=np.int16).astype(np.float32) / 32768.0
    return resample(x, sample_rate, RATE) if len(x) else x
