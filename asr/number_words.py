"""Spoken numbers to digits, for comparing transcripts: "four five six seven" and "forty five sixty seven"
both become "4567", "seventy nine" becomes "79", "one hundred and five" "105", "double three" "33".

Only what a call-center transcript needs: cardinals up to the millions, digit-by-digit strings, "oh" as a
zero inside a digit string, "point", and ordinals ("third" -> "3"). Consecutive numbers are concatenated,
because callers read codes in groups and the recognizer may write them either way.
"""

from __future__ import annotations

from collections.abc import Sequence

_UNITS = "zero one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
SMALL: dict[str, int] = {w: i for i, w in enumerate(_UNITS + _TEENS)}
TENS: dict[str, int] = {w: 20 + 10 * i for i, w in enumerate(_TENS)}
SCALES: dict[str, int] = {"thousand": 1000, "million": 1_000_000}
_ORDINAL_SMALL = (
    "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
    "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth"
).split()
ORDINALS: dict[str, int] = {w: i for i, w in enumerate(_ORDINAL_SMALL)}
ORDINALS.update({w[:-1] + "ieth": v for w, v in TENS.items()})  # twentieth ... ninetieth
ORDINALS.update({"hundredth": 100, "thousandth": 1000})
_REPEAT = {"double": 2, "triple": 3}


def _is_number_word(w: str) -> bool:
    return w in SMALL or w in TENS or w in ORDINALS or w in ("hundred",) or w in SCALES


def words_to_digits(words: Sequence[str]) -> list[str]:
    """Replace every run of number words in `words` by one token of digits; other words pass through."""
    out: list[str] = []
    i = 0
    while i < len(words):
        j = _run_end(words, i)
        if j == i:
            out.append(words[i])
            i += 1
        else:
            out.append(_run_to_digits(words[i:j]))
            i = j
    return out


def _run_end(words: Sequence[str], i: int) -> int:
    """Index just past the number-word run starting at i (i itself when no run starts there)."""
    j = i
    n = len(words)
    while j < n:
        w = words[j]
        nxt = words[j + 1] if j + 1 < n else ""
        prev = words[j - 1] if j > i else ""
        if _is_number_word(w):
            j += 1
            if w in ORDINALS:  # an ordinal ends the number ("twenty first")
                break
        elif w in _REPEAT and nxt in SMALL:
            j += 1
        elif w == "oh" and j > i and (_is_number_word(prev) or prev == "oh"):
            j += 1  # "oh" is a zero only after another digit ("four oh six"), else an interjection
        elif w == "a" and j == i and nxt in ("hundred", "thousand", "million"):
            j += 1
        elif w == "and" and j > i and prev in ("hundred", *SCALES) and (nxt in SMALL or nxt in TENS):
            j += 1
        elif w == "point" and j > i and (nxt in SMALL or nxt == "oh"):
            j += 1
        else:
            break
    return j


def _run_to_digits(run: Sequence[str]) -> str:
    groups: list[str] = []
    total = current = 0
    last = ""  # kind of the previous word: unit, teen, tens, hundred, scale
    open_group = False
    repeat = 1

    def close() -> None:
        nonlocal total, current, last, open_group
        if open_group:
            groups.append(str(total + current))
        total = current = 0
        last = ""
        open_group = False

    for k, w in enumerate(run):
        if w == "and":
            continue
        if w == "point":
            close()
            return "".join(groups) + "." + _run_to_digits(run[k + 1 :])
        if w in _REPEAT:
            repeat = _REPEAT[w]
            continue
        value = 1 if w == "a" else 0 if w == "oh" else SMALL.get(w, TENS.get(w, ORDINALS.get(w)))
        if w in SCALES or w in ("hundred", "hundredth", "thousandth"):
            scale = {"hundredth": 100, "thousandth": 1000}.get(w) or SCALES.get(w, 100)
            if not open_group:
                current, open_group = 1, True
            if scale == 100:
                current *= 100
                last = "hundred"
            else:
                total += current * scale
                current = 0
                last = "scale"
            continue
        assert value is not None
        kind = "tens" if w in TENS or (w in ORDINALS and value >= 20) else "teen" if value >= 10 else "unit"
        fits = (
            not open_group
            or (kind == "unit" and last in ("tens", "hundred", "scale") and value > 0)
            or (kind in ("teen", "tens") and last in ("hundred", "scale"))
        )
        if w in ("a", "oh") or value == 0 or repeat > 1:
            fits = not open_group
        if not fits:
            close()
        for _ in range(repeat - 1):
            groups.append(str(value))
        repeat = 1
        current += value
        open_group = True
        last = kind
    close()
    return "".join(groups)
