"""English number words for the phone: cardinals, ordinals and digit-by-digit reading.

Kept free of dependencies so text normalisation stays a pure, fast function. Words never contain commas:
a comma would make the clause splitter cut a number in half.
"""

from __future__ import annotations

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}
DIGIT_WORDS = dict(zip("0123456789", _ONES[:10], strict=True))


def _below_thousand(n: int) -> str:
    words = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words.append(f"{_ONES[hundreds]} hundred")
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    elif rest or not hundreds:
        words.append(_ONES[rest])
    return " ".join(words)


def cardinal(n: int) -> str:
    """1250 -> 'one thousand two hundred fifty'; negative numbers get 'minus'."""
    if n < 0:
        return f"minus {cardinal(-n)}"
    if n < 1000:
        return _below_thousand(n)
    if n >= 1000 * 10**12:
        return digits(str(n))  # too big to be a quantity anyone says aloud
    words = []
    for value, name in _SCALES:
        count, n = divmod(n, value)
        if count:
            words.append(f"{_below_thousand(count)} {name}")
    if n:
        words.append(_below_thousand(n))
    return " ".join(words)


def ordinal(n: int) -> str:
    """24 -> 'twenty-fourth'."""
    words = cardinal(n)
    head, sep, last = words.rpartition(" ")
    prefix, dash, unit = last.rpartition("-")
    if unit in _ORDINAL_WORDS:
        unit = _ORDINAL_WORDS[unit]
    elif unit.endswith("y"):
        unit = unit[:-1] + "ieth"
    else:
        unit += "th"
    return f"{head}{sep}{prefix}{dash}{unit}"


def digits(s: str) -> str:
    """'4507' -> 'four five zero seven': identifiers are read one digit at a time."""
    return " ".join(DIGIT_WORDS[c] for c in s if c in DIGIT_WORDS)


def decimal(text: str) -> str:
    """'2.50' -> 'two point five zero'; '1,250' -> 'one thousand two hundred fifty'."""
    whole, _, frac = text.replace(",", "").partition(".")
    words = cardinal(int(whole or "0"))
    return f"{words} point {digits(frac)}" if frac else words
