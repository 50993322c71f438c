"""Split a normalised reply into clauses so the first one can be spoken while the rest is synthesized.

Cuts after sentence ends (. ! ? …) and after commas, semicolons, colons and spaced dashes. A clause of fewer
than `min_words` words ("Yes,", "Okay, so") is merged into the next one (the last into the previous) so the
engine still sees a phrase and its prosody survives. Sentence-final clauses are never merged forward: an
engine reads "Sure." on its own naturally. Commas inside numbers ("1,250") are not cut: a cut needs a space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# No cut after a one-letter initial: "A.M.", "E.T.A." and spelled codes ("A.B. four five") stay whole.
_CUT = re.compile(r"(?<=[.!?…,;:])(?<!\b[A-Z]\.)[\"')\]]*\s+|\s+[-–—]\s+|—")
_SENTENCE_END = re.compile(r"[.!?…][\"')\]]*$")
# "Tuesday, November twenty-fourth" is one date: no cut after the weekday.
_WEEKDAY_COMMA = re.compile(r"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,$")
_MONTH_START = re.compile(
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December)\b"
)


@dataclass(frozen=True)
class Clause:
    text: str
    ends_sentence: bool  # decides the pause that follows it


def split_clauses(text: str, min_words: int = 3) -> list[Clause]:
    pieces = []
    pos = 0
    for m in _CUT.finditer(text):
        if _WEEKDAY_COMMA.search(text, pos, m.start()) and _MONTH_START.match(text, m.end()):
            continue
        piece = text[pos : m.start()] + m.group().strip()
        if m.group().strip() in {"-", "–", "—"}:
            piece = text[pos : m.start()].rstrip() + ","  # a dash is a comma-length pause
        pieces.append(piece.strip())
        pos = m.end()
    pieces.append(text[pos:].strip())
    clauses = [Clause(p, bool(_SENTENCE_END.search(p))) for p in pieces if any(c.isalnum() for c in p)]

    merged: list[Clause] = []
    carry = ""
    for clause in clauses:
        text_so_far = f"{carry} {clause.text}".strip()
        if len(text_so_far.split()) < min_words and not clause.ends_sentence:
            carry = text_so_far
            continue
        merged.append(Clause(text_so_far, clause.ends_sentence))
        carry = ""
    if carry:
        if merged and not merged[-1].ends_sentence:
            merged[-1] = Clause(f"{merged[-1].text} {carry}", False)
        else:
            merged.append(Clause(carry, False))
    if len(merged) > 1 and len(merged[-1].text.split()) < min_words and not merged[-2].ends_sentence:
        last = merged.pop()
        merged[-1] = Clause(f"{merged[-1].text} {last.text}", last.ends_sentence)
    return merged
