"""The Seq2Seq reply model: corpus (corpus.py), model (model.py), training (train.py), the safety gate the
manager runs on every generated reply (gate.py) and the `ReplyGenerator` that puts the model on the phone
(generator.py). torch is imported only when used.

    from dialogue.seq2seq import make_generator
    manager = DialogueManager(store, generator=make_generator("seq2seq"))  # or "template"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dialogue.acts import ReplyGenerator

__all__ = ["load_generator", "make_generator"]


def load_generator(path: Any = None, **kwargs: Any) -> ReplyGenerator:
    """The shipped (or given) checkpoint; templates named `fallback:<why>` when it cannot load."""
    from dialogue.seq2seq.generator import load_generator as load

    return load(path, **kwargs)


def make_generator(name: str, path: Any = None, **kwargs: Any) -> ReplyGenerator:
    """"seq2seq" (the trained model) or "template"."""
    from dialogue.seq2seq.generator import make_generator as make

    return make(name, path, **kwargs)
