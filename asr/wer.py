"""Word error rate on normalised transcripts, shared by the ASR tests and the replay report.

Normalisation makes equal what a caller would call equal: case, punctuation and fillers (um, uh) are
dropped, spoken numbers become digits and digit strings are joined ("four five six seven" == "4567" ==
"4,5,6,7" == "4-5-6-7"), and prices are written one way ("$79.99" == "79.99 dollars" == "seventy nine
dollars and ninety nine cents").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from asr.number_words import words_to_digits

_CURRENCY = {"$": "dollars", "£": "pounds", "€": "euros"}
_SAME = {
    "ok": "okay",
    "alright": "all right",
    "mr": "mister",
    "mrs": "missus",
    "dr": "doctor",
    "bucks": "dollars",
    "dollar": "dollars",
    "cent": "cents",
    "percentage": "percent",
}
_FILLERS = {"um", "uh", "umm", "uhm", "er", "erm", "ah", "hmm", "mm", "mhm"}  # recognizers drop them
_MONEY_UNITS = ("dollars", "pounds", "euros")
_DIGITS = re.compile(r"\d+")


def normalize_transcript(text: str) -> list[str]:
    """Lowercase words with punctuation stripped and numbers as digits (see the module doc)."""
    t = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'").replace("\u2018", "'")
    t = re.sub(r"([$£€])\s*(\d[\d,]*(?:\.\d+)?)", lambda m: f" {m.group(2)} {_CURRENCY[m.group(1)]} ", t)
    t = re.sub(r"(\d)\s*%", r"\1 percent", t)
    t = re.sub(r"(?<=\d)[,\-/](?=\d)", "", t)  # 1,250 / 4-5-6-7 / 4,5,6,7: one number
    t = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", r"\1", t)  # 3rd -> 3, as "third" -> 3
    t = t.replace("&", " and ").replace("e-mail", "email")
    t = re.sub(r"\b(?:[a-z]\.){2,}", lambda m: m.group(0).replace(".", ""), t)  # p.m. -> pm, u.s. -> us
    t = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", t)  # keep only decimal points
    t = re.sub(r"[^\w.' ]+|_", " ", t)  # letters of any script survive (whisper-base is multilingual)
    words = [w.strip("'") for w in t.split()]
    words = [w for w in words if w and w not in _FILLERS]
    expanded: list[str] = []
    for w in words:
        expanded.extend(_SAME.get(w, w).split())
    return _prices(_join_digits(words_to_digits(expanded)))


def _join_digits(words: list[str]) -> list[str]:
    """Adjacent digit groups are one number: callers read codes in groups ("45 67" == "4567")."""
    out: list[str] = []
    for w in words:
        if out and _DIGITS.fullmatch(w) and _DIGITS.fullmatch(out[-1]):
            out[-1] += w
        else:
            out.append(w)
    return out


def _prices(words: list[str]) -> list[str]:
    """"79 dollars (and) 99 cents" and "79 dollars 99" -> "79.99 dollars"."""
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if _DIGITS.fullmatch(w) and i + 1 < len(words) and words[i + 1] in _MONEY_UNITS:
            unit = words[i + 1]
            rest = words[i + 2 :]
            if len(rest) >= 3 and rest[0] == "and" and _DIGITS.fullmatch(rest[1]) and rest[2] == "cents":
                out += [f"{w}.{int(rest[1]):02d}", unit]
                i += 5
                continue
            if len(rest) >= 2 and _DIGITS.fullmatch(rest[0]) and rest[1] == "cents":
                out += [f"{w}.{int(rest[0]):02d}", unit]
                i += 4
                continue
            if rest and _DIGITS.fullmatch(rest[0]) and len(rest[0]) == 2:
                out += [f"{w}.{rest[0]}", unit]
                i += 3
                continue
        out.append(w)
        i += 1
    return out


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference word count) after normalisation."""
    ref, hyp = normalize_transcript(reference), normalize_transcript(hypothesis)
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1], len(ref)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Edits / reference words. An empty reference scores 0.0 for an empty hypothesis, else 1.0."""
    errors, n = word_errors(reference, hypothesis)
    if n == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / n


def corpus_word_error_rate(pairs: Iterable[tuple[str, str]]) -> float:
    """Total edits over total reference words, for a set of (reference, hypothesis) turns."""
    errors = words = 0
    for ref, hyp in pairs:
        e, n = word_errors(ref, hyp)
        errors, words = errors + e, words + n
    if words == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / words
