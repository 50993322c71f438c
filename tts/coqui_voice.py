"""coqui-tts 0.28.0 (import `TTS`): operator-supplied voices, imported lazily (torch + coqui take seconds).

Two kinds of model_path:
- a coqui checkpoint (.pth, with config_path = its config.json), loaded by coqui's own API
  `TTS(model_path=, config_path=)`. No coqui checkpoint ships on PyPI, so this is for operators' voices.
- a Piper-format VITS ONNX voice (.onnx, config_path defaults to model_path + ".json"), run through coqui's
  `Vits.load_onnx` / `Vits.inference_onnx` (same tensor names as Piper). Phonemes come from piper's
  bundled espeak-ng, since coqui's espeak phonemizer needs a system espeak binary.

Installing coqui on CPU torch (what this module was tested with, Python 3.11):
    pip install coqui-tts==0.28.0 six
    pip install --no-deps torchaudio==2.11.0 torchcodec==0.17.0
    # torchaudio 2.11.0 wheels are CUDA builds: move its native libraries out of the way so that
    # `import torchaudio` falls back to pure Python on CPU torch:
    TA="$(python -c 'import torchaudio, os; print(os.path.dirname(torchaudio.__file__))')"
    mkdir -p ~/torchaudio-cuda-libs && mv "$TA"/lib/*.so ~/torchaudio-cuda-libs/
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tts.base import Synthesizer, SynthesizerCapabilities
from tts.errors import VoiceCorrupt, VoiceMissing
from tts.piper_voice import import_piper, read_piper_config, resolve_voice_files

COQUI_PACKAGE = "coqui-tts==0.28.0"

# The ONNX graph does all the work; coqui's Vits object only hosts the session, so build it tiny.
_HOST_ARGS = dict(
    hidden_channels=2, hidden_channels_ffn_text_encoder=2, num_heads_text_encoder=1,
    num_layers_text_encoder=1, num_layers_posterior_encoder=1, num_layers_flow=1, out_channels=3,
    spec_segment_size=2, use_sdp=False,
    upsample_initial_channel_decoder=2, upsample_rates_decoder=[256], upsample_kernel_sizes_decoder=[256],
    resblock_kernel_sizes_decoder=[3], resblock_dilation_sizes_decoder=[[1, 3, 5]], init_discriminator=False,
)


def _coqui_import_error(e: BaseException) -> VoiceMissing:
    first_line = (str(e).splitlines() or [type(e).__name__])[0]
    return VoiceMissing(
        f"voice 'coqui' needs {COQUI_PACKAGE} importable on CPU torch ({first_line}); "
        "see the install recipe in tts/coqui_voice.py"
    )


class CoquiCheckpointSynthesizer(Synthesizer):
    """A coqui checkpoint + config.json. Torch's thread count is process-wide and left to the application."""

    def __init__(self, *, model_path: str, config_path: str | None, speaker: str | None = None,
                 language: str | None = None) -> None:
        if not config_path:
            raise ValueError("voice 'coqui': a checkpoint model_path needs config_path= (its config.json)")
        for label, path in (("checkpoint", model_path), ("config", config_path)):
            if not Path(path).is_file():
                raise VoiceMissing(f"voice 'coqui': {label} file {path} not found")
        try:
            from TTS.api import TTS
        except (ImportError, OSError) as e:
            raise _coqui_import_error(e) from e
        try:
            self._tts = TTS(model_path=str(model_path), config_path=str(config_path), progress_bar=False)
        except Exception as e:  # coqui raises KeyError/RuntimeError/AssertionError on mismatched files
            first_line = (str(e).splitlines() or [type(e).__name__])[0]
            raise VoiceCorrupt(
                f"voice 'coqui': cannot load checkpoint {model_path} with {config_path} "
                f"({type(e).__name__}: {first_line})"
            ) from None
        self._speaker, self._language = speaker, language
        self.capabilities = SynthesizerCapabilities(
            name=f"coqui:{Path(model_path).stem}", sample_rate=int(self._tts.synthesizer.output_sample_rate),
            voices=tuple(self._tts.speakers or (Path(model_path).stem,)), needs_number_words=True,
        )

    def synthesize_clause(self, text: str) -> np.ndarray:
        import torch

        with torch.inference_mode():
            wav = self._tts.tts(text, speaker=self._speaker, language=self._language, split_sentences=False)
        return np.asarray(wav, dtype=np.float32)


class CoquiOnnxSynthesizer(Synthesizer):
    """A Piper-format VITS .onnx run by coqui's Vits ONNX path (onnxruntime picks its own thread count)."""

    def __init__(self, *, model_path: str, config_path: str | None = None, speaker_id: int | None = None,
                 length_scale: float | None = None, noise_scale: float | None = None,
                 noise_w_scale: float | None = None) -> None:
        model, config = resolve_voice_files(model_path, config_path)
        piper_config = read_piper_config(config)
        import_piper()
        from piper import PiperVoice

        try:
            from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
            from TTS.tts.models.vits import Vits
        except (ImportError, OSError) as e:
            raise _coqui_import_error(e) from e
        host = Vits(VitsConfig(model_args=VitsArgs(**_HOST_ARGS)))
        try:
            host.load_onnx(str(model))
        except Exception as e:  # onnxruntime's own Fail/InvalidProtobuf types
            raise VoiceCorrupt(f"{model}: not a loadable ONNX model ({str(e).splitlines()[0]})") from None
        host.inference_noise_scale = piper_config.noise_scale if noise_scale is None else noise_scale
        host.length_scale = piper_config.length_scale if length_scale is None else length_scale
        host.inference_noise_scale_dp = piper_config.noise_w_scale if noise_w_scale is None else noise_w_scale
        self._host = host
        if piper_config.num_speakers > 1 and speaker_id is None:
            speaker_id = piper_config.default_speaker_id
        self._speaker_id = speaker_id if piper_config.num_speakers > 1 else None
        # Only piper's phonemizer is used from this object: no session is needed for that.
        self._phonemizer = PiperVoice(session=None, config=piper_config)  # type: ignore[arg-type]
        self.capabilities = SynthesizerCapabilities(
            name=f"coqui-onnx:{model.stem}", sample_rate=piper_config.sample_rate, voices=(model.stem,),
            needs_number_words=True,
        )

    def synthesize_clause(self, text: str) -> np.ndarray:
        parts = []
        for phonemes in self._phonemizer.phonemize(text):
            if not phonemes:
                continue
            ids = np.asarray([self._phonemizer.phonemes_to_ids(phonemes)], dtype=np.int64)
            parts.append(np.asarray(self._host.inference_onnx(ids, speaker_id=self._speaker_id)).reshape(-1))
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


_ONNX_OPTIONS = {"length_scale", "noise_scale", "noise_w_scale", "speaker_id"}
_CHECKPOINT_OPTIONS = {"speaker", "language"}


def load_coqui(model_path: str | None, config_path: str | None, **options) -> Synthesizer:
    if not model_path:
        raise ValueError(
            "voice 'coqui' needs model_path=: a coqui checkpoint (.pth, with config_path=) "
            "or a Piper-format VITS .onnx"
        )
    onnx = str(model_path).endswith(".onnx")
    allowed = _ONNX_OPTIONS if onnx else _CHECKPOINT_OPTIONS
    unknown = sorted(set(options) - allowed)
    if unknown:
        kind = "an ONNX voice" if onnx else "a coqui checkpoint"
        raise ValueError(f"voice 'coqui' with {kind} has no option {', '.join(unknown)}; "
                         f"options: {', '.join(sorted(allowed))}")
    if onnx:
        return CoquiOnnxSynthesizer(model_path=str(model_path), config_path=config_path, **options)
    return CoquiCheckpointSynthesizer(model_path=str(model_path), config_path=config_path, **options)
