"""The checkpoint file: weights + vocabularies + config + the fingerprint of what it was trained from.

One `seq2seq.pt` (torch zip, tensors and plain lists/dicts only: loaded with `weights_only=True`). Run
details that vary between runs (wall time) live in the evaluation report beside it, so the same seed gives
the same checkpoint bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from dialogue.seq2seq.corpus import fingerprint
from dialogue.seq2seq.features import Vocab
from dialogue.seq2seq.model import ModelConfig, Seq2Seq

FORMAT = 1
SHIPPED_DIR = Path(__file__).resolve().parent / "checkpoint"
CHECKPOINT_NAME = "seq2seq.pt"


class CheckpointError(Exception):
    """The checkpoint is missing, unreadable or stale; `.reason` is "missing" | "stale" | "unreadable"."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Loaded:
    model: Seq2Seq
    src: Vocab
    tgt: Vocab
    fingerprint: str
    path: Path


def current_fingerprint(config: ModelConfig) -> str:
    return fingerprint({"model": config.to_dict(), "format": FORMAT})


def save(path: Path, model: Seq2Seq, src: Vocab, tgt: Vocab) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({
        "format": FORMAT,
        "config": model.config.to_dict(),
        "fingerprint": current_fingerprint(model.config),
        "src_vocab": src.itos,
        "tgt_vocab": tgt.itos,
        "state_dict": model.state_dict(),
    }, path)


def resolve(path: str | Path | None) -> Path:
    p = Path(path) if path else SHIPPED_DIR
    return p / CHECKPOINT_NAME if p.is_dir() or not p.suffix else p


def load(path: str | Path | None = None) -> Loaded:
    """Load and verify a checkpoint (a file or a folder holding seq2seq.pt; default: the shipped one)."""
    file = resolve(path)
    if not file.is_file():
        raise CheckpointError("missing", f"no Seq2Seq checkpoint at {file}")
    try:
        blob = torch.load(file, map_location="cpu", weights_only=True)
        config = ModelConfig(**blob["config"])
        src, tgt = Vocab(blob["src_vocab"]), Vocab(blob["tgt_vocab"])
        model = Seq2Seq(len(src), len(tgt), config)
        model.load_state_dict(blob["state_dict"])
    except Exception as exc:  # a truncated file or another format: say so, never crash the bot
        raise CheckpointError("unreadable", f"Seq2Seq checkpoint {file} is unreadable: {exc}") from exc
    if blob.get("format") != FORMAT:
        raise CheckpointError("stale", f"Seq2Seq checkpoint {file} has format {blob.get('format')}, "
                                       f"this code reads {FORMAT}")
    want = current_fingerprint(config)
    if blob.get("fingerprint") != want:
        raise CheckpointError("stale", f"Seq2Seq checkpoint {file} was trained on another corpus/config "
                                       f"(fingerprint {blob.get('fingerprint')}, now {want}): retrain with "
                                       f"`voicebot train dialogue`")
    model.eval()
    return Loaded(model, src, tgt, want, file)
