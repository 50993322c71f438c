"""What the Seq2Seq model sees (one source token sequence per act) and how reply text becomes tokens.

The source is the dialogue state as tag tokens, then the caller's words, then the previous bot turn:
    act:order_shipped intent:order_status v:carrier v:order_number ... lookup:ok mood:neg cat:delivery
    prev:ask_order_number <user> it's num <bot> sure . what's the order number ?
The same function builds it from a corpus example (training) and from a live `ReplyContext` (a call), so the
two cannot drift apart. This file is part of the checkpoint's fingerprint: editing it makes the checkpoint stale.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from dialogue.nlu import normalise

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)
MAX_CALLER_TOKENS = 24
MAX_PREVIOUS_TOKENS = 16
# Sentiment score → mood token: the model hears "upset" from the classifier as well as from the words.
NEG_MOOD_BELOW = -0.35
POS_MOOD_ABOVE = 0.5

_REPLY_TOKEN_RE = re.compile(r"\[[a-z_]+\]|[A-Za-z]+(?:'[A-Za-z]+)*|\d+|[^\sA-Za-z\d]")
_NO_SPACE_BEFORE = {".", ",", ":", ";", "!", "?"}
# Acts that report a CRM look-up: did it find what the caller asked about?
_LOOKUP_FAILED = {"order_not_found", "product_unknown"}
_LOOKUP_PREFIXES = ("order_", "product_", "purchase_", "ticket_", "return_opened", "callback_opened",
                    "contact_update_opened")


@dataclass(frozen=True)
class ModelInput:
    act: str
    intent: str = ""
    value_keys: tuple[str, ...] = ()  # the placeholders the manager can fill for this act
    turn_acts: tuple[str, ...] = ()  # every act of this turn (e.g. order_shipped + offer_more)
    caller: str = ""  # the caller's words (raw transcript)
    previous_acts: tuple[str, ...] = ()
    previous_text: str = ""  # the previous bot turn, delexicalised
    mood: str = "neu"  # neg | neu | pos
    category: str | None = None  # complaint category of this turn, when any


def mood_of(score: float | None) -> str:
    if score is None:
        return "neu"
    return "neg" if score < NEG_MOOD_BELOW else "pos" if score > POS_MOOD_ABOVE else "neu"


def lookup_of(act: str) -> str:
    if act in _LOOKUP_FAILED:
        return "fail"
    return "ok" if act.startswith(_LOOKUP_PREFIXES) else "none"


def source_tokens(x: ModelInput) -> list[str]:
    tags = [f"act:{x.act}", f"intent:{x.intent or 'none'}"]
    tags += [f"v:{k}" for k in sorted(x.value_keys)]
    tags += [f"turn:{a}" for a in x.turn_acts if a != x.act]
    tags += [f"lookup:{lookup_of(x.act)}", f"mood:{x.mood}"]
    if x.category:
        tags.append(f"cat:{x.category}")
    tags += [f"prev:{a}" for a in x.previous_acts] or ["prev:none"]
    caller = normalise(x.caller).split()[:MAX_CALLER_TOKENS]
    previous = [t.lower() for t in reply_tokens(x.previous_text)][:MAX_PREVIOUS_TOKENS]
    return tags + ["<user>"] + caller + ["<bot>"] + previous


def reply_tokens(text: str) -> list[str]:
    """Reply text → tokens; a `[placeholder]` is one token."""
    return _REPLY_TOKEN_RE.findall(text)


def detokenize(tokens: Iterable[str]) -> str:
    out = ""
    for tok in tokens:
        if out and tok not in _NO_SPACE_BEFORE:
            out += " "
        out += tok
    return out


class Vocab:
    def __init__(self, tokens: Iterable[str]) -> None:
        self.itos: list[str] = list(SPECIALS) + [t for t in tokens if t not in SPECIALS]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, sequences: Iterable[list[str]], min_count: int = 1, keep: Iterable[str] = ()) -> Vocab:
        counts = Counter(t for seq in sequences for t in seq)
        keep = set(keep)
        chosen = sorted(t for t, c in counts.items() if c >= min_count or t in keep)
        return cls(chosen)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        unk = self.stoi[UNK]
        return [self.stoi.get(t, unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]
