"""Spoken numbers as an ASR writes them → digit strings.

Callers read order numbers digit by digit ("four five six seven", "one oh two four"), in pairs ("forty five
sixty seven", "three forty five"), as cardinals ("ten thousand and one"), with "double five", and Whisper
mixes words and digits ("45 sixty seven", "4,5,6,7", "order number for 567"). Everything is reduced to
`NumberRun`s: maximal stretches of number tokens with the digits they spell and the words around them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = {
    "zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9,
}
TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}
REPEATS = {"double": 2, "triple": 3}
MAGNITUDES = {"hundred", "thousand"}
FILLERS = {"uh", "um", "umm", "uhh", "er", "erm", "ah", "hmm", "mm"}
_ZEROES = {"zero", "oh", "o"}
# Words after which "for" is really the digit 4 (Whisper writes "order number for 567").
_NUMBER_CUES = {"number", "#", "no", "num"}

_TOKEN_RE = re.compile(r"\d+|[a-z]+(?:'[a-z]+)?|[#$%]")


def tokens(text: str) -> list[str]:
    """Lowercase word/digit tokens; punctuation between digits ("4,5,6,7", "45-67") is dropped."""
    return _TOKEN_RE.findall(text.lower())


@dataclass(frozen=True)
class NumberRun:
    digits: str
    start: int  # token index of the first number token
    end: int  # token index after the last one
    before: str | None  # the token before the run
    after: str | None  # the token after the run


def _is_core(tok: str) -> bool:
    return tok.isdigit() or (tok in UNITS and tok not in _ZEROES) or tok in TEENS or tok in TENS


def _is_weak(tok: str) -> bool:
    """Tokens that belong to a number only next to real number words."""
    return (
        tok in _ZEROES or tok in REPEATS or tok in MAGNITUDES or tok in FILLERS or tok in {"and", "a", "for"}
    )


def number_runs(text: str) -> list[NumberRun]:
    toks = tokens(text)
    runs: list[NumberRun] = []
    i = 0
    while i < len(toks):
        if not (_is_core(toks[i]) or _is_weak(toks[i])):
            i += 1
            continue
        j = i
        while j < len(toks) and (_is_core(toks[j]) or _is_weak(toks[j])):
            j += 1
        run = _trim(toks, i, j)
        if run is not None:
            s, e = run
            digits = to_digits(toks[s:e])
            if digits:
                runs.append(
                    NumberRun(
                        digits, s, e, toks[s - 1] if s > 0 else None, toks[e] if e < len(toks) else None
                    )
                )
        i = j
    return runs


def _trim(toks: list[str], s: int, e: int) -> tuple[int, int] | None:
    """Drop weak tokens at the edges of a candidate run; None when nothing numeric is left."""
    if not any(_is_core(t) for t in toks[s:e]):
        # "double oh" / "oh oh" alone are not numbers; bare "zero" is.
        if any(t == "zero" for t in toks[s:e]):
            return s, e
        return None
    while s < e and not _is_core(toks[s]):
        t = toks[s]
        keep = (
            (t == "for" and s > 0 and toks[s - 1] in _NUMBER_CUES)
            or t in REPEATS
            or t == "zero"
            or (t == "a" and s + 1 < e and toks[s + 1] in MAGNITUDES)
        )
        # A leading "oh" is an interjection ("oh, four five six seven"); a leading "zero" is a digit.
        if keep:
            break
        s += 1
    while e > s and toks[e - 1] in (FILLERS | {"and", "a", "for", "double", "triple"}):
        e -= 1
    return (s, e) if e > s else None


def to_digits(toks: list[str]) -> str:
    """The digit string a run of number tokens spells."""
    out: list[str] = []
    i = 0
    n = len(toks)
    while i < n:
        t = toks[i]
        if t.isdigit():
            out.append(t)
            i += 1
            continue
        if (
            t in REPEATS
            and i + 1 < n
            and (toks[i + 1] in UNITS or (toks[i + 1].isdigit() and len(toks[i + 1]) == 1))
        ):
            nxt = toks[i + 1]
            out.append((str(UNITS[nxt]) if nxt in UNITS else nxt) * REPEATS[t])
            i += 2
            continue
        value, used, cardinal = _cardinal(toks, i)
        if cardinal:
            out.append(str(value))
            i += used
            continue
        # Group mode: one digit, a teen, or a tens word with its unit ("forty five" → 45).
        if t in UNITS:
            out.append(str(UNITS[t]))
        elif t == "for":
            out.append("4")
        elif t in TEENS:
            out.append(str(TEENS[t]))
        elif t in TENS:
            nxt = toks[i + 1] if i + 1 < n else ""
            if nxt in UNITS and UNITS[nxt] > 0:
                out.append(str(TENS[t] + UNITS[nxt]))
                i += 1
            else:
                out.append(str(TENS[t]))
        i += 1
    return "".join(out)


def _cardinal(toks: list[str], i: int) -> tuple[int, int, bool]:
    """Parse "three hundred forty five" / "ten thousand and one" from toks[i].

    Returns (value, tokens used, whether a magnitude word made it a cardinal). Without "hundred"/"thousand"
    the caller falls back to digit/pair mode, so "forty five sixty seven" stays 4567.
    """
    total = current = 0
    last: str | None = None
    had_magnitude = False
    j = end = i
    while j < len(toks):
        t = toks[j]
        if t in FILLERS or (t == "and" and last in MAGNITUDES):
            j += 1
            continue
        if t == "a" and last is None and j + 1 < len(toks) and toks[j + 1] in MAGNITUDES:
            current, last = 1, "unit"
        elif t in UNITS and UNITS[t] > 0 and last in (None, "tens", "hundred", "thousand"):
            current += UNITS[t]
            last = "unit"
        elif t in TEENS and last in (None, "hundred", "thousand"):
            current += TEENS[t]
            last = "teen"
        elif t in TENS and last in (None, "hundred", "thousand"):
            current += TENS[t]
            last = "tens"
        elif t == "hundred" and last in ("unit", "teen", "tens") and current < 100:
            current *= 100
            last = "hundred"
            had_magnitude = True
        elif t == "thousand" and last in ("unit", "teen", "tens", "hundred") and total == 0:
            total, current = current * 1000, 0
            last = "thousand"
            had_magnitude = True
        else:
            break
        j += 1
        end = j
    return total + current, end - i, had_magnitude

