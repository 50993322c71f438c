"""The Seq2Seq corpus: text kept in `dialogue/corpus/seq2seq/`, expanded here into (state, reply) pairs.

replies.txt   act | style | delexicalised reply, with optional `{...}` segments
callers.txt   caller lines by [situation] (training); heldout_callers.txt: other style, never trained on
Training lines are multiplied with phone-line noise: fillers, politeness, spoken numbers, homophones and
dropped words (what Whisper hands the dialogue manager). Run `python -m dialogue.seq2seq.corpus --out F`
to write the expanded pairs as TSV for reading.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from dialogue.acts import ACTS, placeholders
from dialogue.seq2seq.features import ModelInput, mood_of
from dialogue.seq2seq.scenarios import Turn, bot_turns, keys_for, turns_for
from dialogue.slots import complaint_category

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus" / "seq2seq"
_HERE = Path(__file__).resolve().parent
# What a checkpoint is trained from, hashed into its fingerprint: the corpus text, the sentiment corpus (the
# mood token comes from that classifier, in training as in a call), and the code that turns them into model
# inputs (situations → acts, noise, the input encoding). Editing any of them makes the checkpoint stale.
FINGERPRINTED = (CORPUS_DIR / "replies.txt", CORPUS_DIR / "callers.txt",
                 CORPUS_DIR.parent / "sentiment" / "train.txt",
                 _HERE / "corpus.py", _HERE / "scenarios.py", _HERE / "features.py")
TRAIN_COPIES = 8  # noisy variants per training caller line (train.py --copies)
_RICH = ("order_", "product_", "purchase_")
_SEGMENT_RE = re.compile(r"\{(-[a-z_]+:)?([^{}]*)\}")
PRODUCTS = ("wireless headphones", "smart watch", "coffee maker", "running shoes", "laptop stand", "blender",
            "toaster", "bluetooth speaker", "desk lamp", "backpack", "headphones", "speaker", "watch")
OTHER_THINGS = ("televisions", "sofas", "bicycles", "mobile phones", "garden furniture", "printers", "tvs",
                "guitars", "car tyres", "fridges", "video games", "perfume")
_DIGIT_WORDS = "zero one two three four five six seven eight nine".split()
_FILLERS = ("um", "uh", "like", "you know", "so", "er")
_PREFIXES = ("hi ", "hello ", "yeah hi ", "hi there ", "good morning ", "ok so ", "yeah ", "um hi ", "right ")
_SUFFIXES = (" please", " thanks", " thank you", " if you could", " for me", " please thanks")
_HOMOPHONES = {"to": "too", "two": "to", "for": "four", "there": "their", "where": "wear", "know": "no",
               "right": "write", "buy": "by", "i'd": "id", "it's": "its", "your": "you're", "would": "wood",
               "check": "cheque", "order": "older", "hi": "high", "here": "hear", "weight": "wait"}


@dataclass(frozen=True)
class Example:
    input: ModelInput
    target: str  # the delexicalised reply
    situation: str
    style: str


def read_replies(path: Path = CORPUS_DIR / "replies.txt") -> dict[str, dict[str, str]]:
    """act → style → reply pattern; every act of ACTS needs a `plain` reply."""
    replies: dict[str, dict[str, str]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|", 2)]
        if len(parts) != 3 or parts[0] not in ACTS or not parts[2]:
            raise ValueError(f"{path.name} line {n}: expected 'act | style | reply' with a known act")
        replies.setdefault(parts[0], {})[parts[1]] = parts[2]
    missing = sorted(a for a in ACTS if "plain" not in replies.get(a, {}))
    if missing:
        raise ValueError(f"{path.name}: no plain reply for {', '.join(missing)}")
    return replies


def read_callers(path: Path) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    current = None
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = groups.setdefault(line[1:-1], [])
        elif current is None:
            raise ValueError(f"{path.name} line {n}: caller line before any [situation] header")
        else:
            current.append(line)
    return groups


def expand(pattern: str, keys: set[str]) -> str:
    """Keep `{...}` when every placeholder inside has a value; `{-name:...}` when `name` has none."""

    def segment(m: re.Match[str]) -> str:
        absent, text = m.group(1), m.group(2)
        if absent:
            return text if absent[1:-1] not in keys else ""
        return text if placeholders(text) <= keys else ""

    text = re.sub(r"\s+", " ", _SEGMENT_RE.sub(segment, pattern)).strip()
    return text[:1].upper() + text[1:]


def reply_for(replies: dict[str, dict[str, str]], act: str, style: str, keys: set[str]) -> tuple[str, str]:
    styles = replies[act]
    style = style if style in styles else "plain"
    return expand(styles[style], keys), style


def spoken_number(digits: str, rng: random.Random) -> str:
    """An order number the way a caller says it: digits, digit words ("oh" for zero) or pairs."""
    r = rng.random()
    if r < 0.35:
        return digits
    if r < 0.8 or len(digits) != 4:
        return " ".join("oh" if d == "0" and rng.random() < 0.5 else _DIGIT_WORDS[int(d)] for d in digits)
    tens = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
    decades = "twenty thirty forty fifty sixty seventy eighty ninety".split()

    def pair(p: str) -> str:
        a, b = int(p[0]), int(p[1])
        if a == 0:
            return f"oh {_DIGIT_WORDS[b]}"
        if a == 1:
            return tens[b]
        return decades[a - 2] + ("" if b == 0 else f" {_DIGIT_WORDS[b]}")

    return f"{pair(digits[:2])} {pair(digits[2:])}"


def fill_markers(line: str, rng: random.Random) -> str:
    number = str(rng.choice([rng.randint(100, 999), rng.randint(1000, 9999), rng.randint(10000, 99999)]))
    line = line.replace("<num>", spoken_number(number, rng))
    line = line.replace("<product>", rng.choice(PRODUCTS))
    return line.replace("<other>", rng.choice(OTHER_THINGS))


def phone_noise(line: str, rng: random.Random) -> str:
    """What the ASR may hand over: fillers, politeness, homophones, a dropped word, lost punctuation."""
    words = re.sub(r"[^\w\s']", " ", line.lower()).split()
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words) + 1), rng.choice(_FILLERS))
    if rng.random() < 0.15:
        words = [_HOMOPHONES.get(w, w) if rng.random() < 0.5 else w for w in words]
    if len(words) > 4 and rng.random() < 0.1:
        del words[rng.randrange(len(words))]
    text = " ".join(words)
    if rng.random() < 0.25:
        text = rng.choice(_PREFIXES) + text
    if rng.random() < 0.2:
        text += rng.choice(_SUFFIXES)
    return text


def build_examples(split: str = "train", seed: int = 0, copies: int = TRAIN_COPIES) -> list[Example]:
    """Expand the corpus. `train`: callers.txt × `copies` noisy variants, plus the bot-initiated turns;
    `heldout`: heldout_callers.txt as written (two outcome draws per line)."""
    if split not in {"train", "heldout"}:
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    rng = random.Random(f"{split}:{seed}")
    replies = read_replies()
    callers = read_callers(CORPUS_DIR / ("callers.txt" if split == "train" else "heldout_callers.txt"))
    examples: list[Example] = []
    for situation, lines in callers.items():
        # Orders and the catalog have the most styles × statuses to learn: twice the draws.
        draws = 2 if split == "heldout" else copies * 2 if situation.startswith(_RICH) else copies
        for line in lines:
            for _ in range(draws):
                said = fill_markers(line, rng)
                if split == "train":
                    said = phone_noise(said, rng)
                for turn in turns_for(situation, line, rng):
                    examples += _examples(turn, said, situation, replies, rng, split)
    if split == "train":
        for _ in range(copies * 4):
            for turn in bot_turns(rng):
                examples += _examples(turn, "", "bot", replies, rng, split)
    return examples


def _examples(turn: Turn, said: str, situation: str, replies: dict[str, dict[str, str]], rng: random.Random,
              split: str) -> list[Example]:
    from dialogue.sentiment import default_sentiment

    previous_text = " ".join(reply_for(replies, a, "plain", set(keys_for(a, rng)))[0] for a in turn.previous)
    # The mood the live classifier gives these words; now and then a random one, so the words still count.
    mood = mood_of(default_sentiment().score(said)) if said else "neu"
    if split == "train" and rng.random() < 0.1:
        mood = rng.choice(["neg", "neu", "pos"])
    names = tuple(a for a, _ in turn.acts)
    # As in a call: the turn's slots carry a complaint category whenever the words have one (any intent);
    # a ticket turn carries the ticket's category.
    category = turn.category or complaint_category(said)
    out = []
    for act, keys in turn.acts:
        if split == "train" and act == "offer_more" and len(names) > 1 and rng.random() < 0.6:
            continue  # the trailing "anything else?" is learnt quickly: spend the steps elsewhere
        style = turn.styles.get(act, "plain")
        if style == "damaged" and category != "damaged":  # the noise hid the damage: no sympathy for it
            style = "plain"
        target, style = reply_for(replies, act, style, set(keys))
        if not placeholders(target) <= set(keys):
            raise ValueError(f"replies.txt: {act} | {style} uses a value the act lacks: {target!r} ({keys})")
        x = ModelInput(act=act, intent=turn.intent, value_keys=tuple(sorted(keys)), turn_acts=names,
                       caller=said, previous_acts=turn.previous, previous_text=previous_text, mood=mood,
                       category=category)
        out.append(Example(x, target, situation, style))
    return out


def fingerprint(extra: dict | None = None) -> str:
    """What a checkpoint was trained from: the FINGERPRINTED files, the act table and the config."""
    h = hashlib.sha256()
    for path in FINGERPRINTED:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(json.dumps({k: [list(v[0]), list(v[1])] for k, v in sorted(ACTS.items())}).encode())
    h.update(json.dumps(extra or {}, sort_keys=True).encode())
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dialogue.seq2seq.corpus",
                                     description="expand the Seq2Seq corpus into readable TSV pairs")
    parser.add_argument("--split", choices=["train", "heldout"], default="train")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="-", help="TSV file (default: stdout)")
    args = parser.parse_args(argv)
    from dialogue.seq2seq.features import source_tokens

    rows = [f"{e.situation}\t{' '.join(source_tokens(e.input))}\t{e.target}"
            for e in build_examples(args.split, args.seed)]
    text = "\n".join(rows) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{len(rows)} pairs written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
