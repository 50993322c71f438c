"""Phone text normalisation: write a reply the way it should sound on a call.

A caller copies identifiers down one digit at a time, so order/ticket/reference numbers, long digit runs
and phone numbers are read digit by digit (phone numbers in their groups). Prices, dates, emails, times
and common abbreviations get their spoken form. Engines that read numbers poorly (Piper) ask for
`numbers_as_words=True` and get every remaining number as words too.

Pure function, no engine involved: `normalize_for_phone("Order 4567 costs $79.99.")`
-> "Order four five six seven costs 79 dollars and 99 cents."
"""

from __future__ import annotations

import datetime as dt
import re

from tts.number_words import DIGIT_WORDS, cardinal, decimal, digits, ordinal

_MONTHS = (
    "January February March April May June July August September October November December".split()
)
_MONTH_KEYS = {m[:3].lower(): i + 1 for i, m in enumerate(_MONTHS)} | {"sept": 9}
_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_MONTH_RE = "|".join(_MONTHS + "Jan Feb Mar Apr Jun Jul Aug Sept Sep Oct Nov Dec".split())
_WEEKDAY_RE = "|".join(_WEEKDAYS + "Mon Tues Tue Wed Thurs Thur Thu Fri Sat Sun".split())

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_WEB = re.compile(
    r"\b(?:https?://)?((?:www\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:com|org|net|io|co|us|uk|gov|edu|info))"
    r"\b(/[\w/-]*)?"
)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_US_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
_NAMED_DATE = re.compile(
    rf"\b(?:({_WEEKDAY_RE}),?\s+)?({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?!:)(?:,?\s+(\d{{4}})\b)?"
)
_INTL_PHONE = re.compile(r"(?<![\w+])\+(\d{1,3})((?:[\s.-]\d{1,4}){2,5})(?![\w-])")
_PHONE = re.compile(
    r"(?<![\w.])(?:(\+?1)[\s.-]?)?(?:\((\d{3})\)\s?|(\d{3})[\s.-])(\d{3})[\s.-](\d{4})(?![\w-])"
    r"|(?<![\w.-])(\d{3})-(\d{4})(?![\w-])"
)
_ID_WORDS = (
    "order|ticket|reference|ref|confirmation|case|account|invoice|tracking|booking|reservation|claim|"
    "policy|member|membership|customer|transaction|RMA|serial|ID|number"
)
_KEYED_ID = re.compile(
    rf"\b({_ID_WORDS})(\s+(?:number|no\.?|num\.?|ID)|\s*#)?:?\s*#?\s*"
    r"(?=[A-Za-z0-9-]*\d)([A-Za-z0-9]{3,}(?:-[A-Za-z0-9]+)*)\b(?![.,]\d)",
    re.IGNORECASE,
)
_HASH_ID = re.compile(r"(?<![\w&])#\s?(\d+)")
_CODE = re.compile(r"\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]{2,}(?:-[A-Z0-9]+)*\b")
_LONG_DIGITS = re.compile(r"(?<![\d$€£.,])\d{5,}(?![\d]|[.,]\d)")
_MONEY = re.compile(
    r"([$€£])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?:\s?(thousand|million|billion)\b)?"
    r"|\b(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{2}))?\s?(dollars?|USD)\b"
)
_CURRENCY = {"$": ("dollar", "dollars", "cent", "cents"), "€": ("euro", "euros", "cent", "cents"),
             "£": ("pound", "pounds", "penny", "pence")}
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s?%")
# "p.m." keeps its final dot when it ends the sentence, and drops it before a lowercase word.
_TIME = re.compile(r"\b(\d{1,2}):(\d{2})(?:\s?([AaPp])\.?\s?[Mm]\b(?:\.(?=\s+[a-z]))?)?")
_MERIDIEM = re.compile(r"\b(\d{1,2})\s?([AaPp])\.?\s?[Mm]\b(?:\.(?=\s+[a-z]))?")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
_NUMBER = re.compile(r"(?<![\d,.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|(?<![\d,])\d+(?:\.\d+)?(?!\d)")
# (pattern, spoken form, may end a sentence): a consumed final "." is put back at a sentence end.
_ABBREVIATIONS = [
    (r"\bDr\.(?=\s+[A-Z])", "Doctor", False), (r"\bMr\.", "Mister", False), (r"\bMrs\.", "Missus", False),
    (r"\bMs\.", "Miz", False),
    # "12 Main St." and "fifth St" are streets; "St. Paul" is a saint.
    (r"\b(\d+ (?:[A-Z][a-z]+ ){1,3})St\b\.?", r"\1Street", True),
    (r"\b([A-Z][a-z]+ |[a-z]+(?:st|nd|rd|th) )St\b(?!\.?\s+[A-Z])\.?", r"\1Street", True),
    (r"\bSt\.(?=\s+[A-Z])", "Saint", False), (r"\bNo\.(?=\s?\d)", "number", False),
    (r"\bAve\.?(?=[\s,;]|\.?$)", "Avenue", True),
    (r"\bBlvd\.?(?=[\s,;]|\.?$)", "Boulevard", True), (r"\bRd\.(?=[\s,;]|$)", "Road", True),
    (r"\bApt\.?(?=\s)", "apartment", False), (r"\bSte\.(?=\s)", "suite", False),
    (r"\bapprox\.", "approximately", True), (r"\be\.g\.", "for example", False),
    (r"\bi\.e\.", "that is", False),
    (r"\betc\.", "et cetera", True), (r"\bvs\.?(?=\s)", "versus", False),
    (r"(?<=\d )mins?\b\.?", "minutes", True), (r"(?<=\d )hrs?\b\.?", "hours", True),
    (r"\bASAP\b", "as soon as possible", False), (r"\bETA\b", "E.T.A.", False), (r"\bFAQ\b", "F.A.Q.", False),
    (r"\bSMS\b", "S.M.S.", False), (r"\bID\b", "I.D.", False), (r"\bw/(?=\s)", "with", False),
    (r"\b24/7\b", "twenty-four seven", False), (r"\s&\s", " and ", False),
    (r"\bMon-Fri\b", "Monday to Friday", False),
]
_ABBREVIATION_RES = [(re.compile(p), r, ends) for p, r, ends in _ABBREVIATIONS]
_SENTENCE_GOES_ON = re.compile(r"\s*[a-z0-9,;:]")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")
_DOUBLE_DOT = re.compile(r"(?<=\b[A-Z]\.)\.")  # "P.M." closing a sentence: one dot


def normalize_for_phone(text: str, *, numbers_as_words: bool = False) -> str:
    """The spoken form of `text` for a phone call (see module doc). Raises TypeError for non-text."""
    if not isinstance(text, str):
        raise TypeError(f"text to speak must be str, got {type(text).__name__}")
    words = numbers_as_words
    s = " ".join(text.replace("\u2019", "'").replace("\u00a0", " ").split())
    s = _EMAIL.sub(lambda m: _spoken_email(m.group()), s)
    s = _WEB.sub(_spoken_web_address, s)
    s = _ISO_DATE.sub(lambda m: _spoken_date(int(m[1]), int(m[2]), int(m[3])) or m.group(), s)
    s = _US_DATE.sub(lambda m: _spoken_date(int(m[3]), int(m[1]), int(m[2])) or m.group(), s)
    s = _NAMED_DATE.sub(_spoken_named_date, s)
    s = _INTL_PHONE.sub(lambda m: "plus " + _spoken_phone_groups(m.group()[1:]), s)
    s = _PHONE.sub(_spoken_phone, s)
    s = _TIME.sub(_spoken_time, s)
    s = _MERIDIEM.sub(lambda m: f"{cardinal(int(m[1]))} {m[2].upper()}.M.", s)
    s = _KEYED_ID.sub(lambda m: f"{m[1]}{_id_joiner(m[2])}{_spelled_id(m[3])}", s)
    s = _HASH_ID.sub(lambda m: f"number {digits(m[1])}", s)
    s = _CODE.sub(_spoken_code, s)
    s = _LONG_DIGITS.sub(lambda m: f" {digits(m.group())} ", s)
    s = _MONEY.sub(lambda m: _spoken_money(m, words), s)
    s = _PERCENT.sub(lambda m: f"{decimal(m[1]) if words else m[1]} percent", s)
    s = _ORDINAL.sub(lambda m: ordinal(int(m[1])), s)
    for pattern, replacement, may_end in _ABBREVIATION_RES:
        s = pattern.sub(lambda m, r=replacement, e=may_end: _expanded(m, r, e), s)
    if words:
        s = _NUMBER.sub(_number_words, s)
    s = _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(s.split()))
    return _DOUBLE_DOT.sub("", s)


def _expanded(m: re.Match[str], replacement: str, may_end_sentence: bool) -> str:
    """'etc.' -> 'et cetera', keeping the dot when it also closed the sentence."""
    spoken = m.expand(replacement)
    if not (may_end_sentence and m.group().endswith(".")):
        return spoken
    rest = m.string[m.end():]
    return spoken if _SENTENCE_GOES_ON.match(rest) else spoken + "."


def _spoken_code(m: re.Match[str]) -> str:
    """Product/booking codes such as 'AB1234' are spelled; words like 'COVID-19' are left to the engine."""
    code = m.group()
    letters = sum(c.isalpha() for c in code)
    return _spelled_id(code) if len(code) >= 4 and letters <= 3 else code


def _number_words(m: re.Match[str]) -> str:
    """'1,250' -> words; digits glued to letters ('MP3', '4B') get spaces so the engine sees two words."""
    words = decimal(m.group())
    before, after = m.string[m.start() - 1 : m.start()], m.string[m.end() : m.end() + 1]
    return (" " if before.isalpha() else "") + words + (" " if after.isalpha() else "")


def _spoken_email(address: str) -> str:
    def part(chunk: str) -> str:
        chunk = re.sub(r"\d+", lambda m: f" {digits(m.group())} ", chunk)
        for sym, word in (("_", "underscore"), ("-", "dash"), ("+", "plus"), ("%", "percent")):
            chunk = chunk.replace(sym, f" {word} ")
        return chunk

    local, _, domain = address.partition("@")
    spoken = " dot ".join(part(p) for p in local.split(".")) + " at " + " dot ".join(
        part(p) for p in domain.split(".")
    )
    return " ".join(spoken.split())


def _spoken_web_address(m: re.Match[str]) -> str:
    labels = m[1].split(".")
    spoken = " dot ".join("W.W.W." if label.lower() == "www" else label for label in labels)
    spoken += (m[2] or "").replace("/", " slash ")
    return " ".join(spoken.split())


def _spoken_date(year: int, month: int, day: int, weekday: str | None = None) -> str | None:
    """'Tuesday, November twenty-fourth'; the year is left out (a caller hears near dates)."""
    try:
        date = dt.date(year, month, day)
    except ValueError:
        return None
    return f"{weekday or _WEEKDAYS[date.weekday()]}, {_MONTHS[month - 1]} {ordinal(day)}"


def _spoken_named_date(m: re.Match[str]) -> str:
    weekday_text, month_text, day_text, year_text = m.groups()
    month = _MONTH_KEYS.get(month_text[:4].lower()) or _MONTH_KEYS.get(month_text[:3].lower())
    day = int(day_text)
    if not month or not 1 <= day <= 31:
        return m.group()
    key = (weekday_text or "")[:3].lower()
    weekday = next((w for w in _WEEKDAYS if key and w.lower().startswith(key)), None)
    if year_text:
        spoken = _spoken_date(int(year_text), month, day, weekday)
        if spoken:
            return spoken
    prefix = f"{weekday}, " if weekday else ""
    return f"{prefix}{_MONTHS[month - 1]} {ordinal(day)}"


def _spoken_phone_groups(number: str) -> str:
    return ", ".join(digits(g) for g in re.split(r"[\s.-]+", number))


def _spoken_phone(m: re.Match[str]) -> str:
    groups = [g for g in m.groups() if g]
    return ", ".join(digits(g) for g in groups)


def _id_joiner(label: str | None) -> str:
    """Keep 'order number 4567' as 'order number ...'; 'order #4567' also says 'number'."""
    if not label:
        return " "
    return " number " if label.strip().lower().rstrip(".") in {"number", "no", "num", "#"} else f"{label} "


def _spelled_id(ident: str) -> str:
    """'AB-4507' -> 'A.B. four five zero seven': digits one by one, letter runs as initials.

    Dotted initials are read as letter names by both hibari and espeak; a bare "A" would be the article.
    """
    if not any(c.isdigit() for c in ident):
        return ident
    out = []
    for run in re.findall(r"[A-Za-z]+|\d", ident):
        out.append(DIGIT_WORDS[run] if run.isdigit() else "".join(f"{c.upper()}." for c in run))
    return " ".join(out)


def _spoken_money(m: re.Match[str], words: bool) -> str:
    if m[1]:
        symbol, whole_text, frac, scale = m[1], m[2], m[3], m[4]
    else:
        symbol, whole_text, frac, scale = "$", m[5], m[6], None
    one, many, cent, cents = _CURRENCY[symbol]
    whole = int(whole_text.replace(",", ""))
    if scale:  # "$5 million" -> "5 million dollars"
        amount = whole_text + (f".{frac}" if frac else "")
        return f"{decimal(amount) if words else amount} {scale} {many}"
    sub = int((frac or "0").ljust(2, "0"))

    def say(n: int) -> str:
        return cardinal(n) if words else f"{n:,}"  # hibari reads "1250" as a year: keep the comma

    parts = []
    if whole or not sub:
        parts.append(f"{say(whole)} {one if whole == 1 else many}")
    if sub:
        parts.append(f"{say(sub)} {cent if sub == 1 else cents}")
    return " and ".join(parts)


def _spoken_time(m: re.Match[str]) -> str:
    hour, minute, meridiem = int(m[1]), int(m[2]), m[3]
    if hour > 23 or minute > 59:
        return m.group()
    if minute == 0:
        spoken = cardinal(hour) if meridiem else f"{cardinal(hour)} o'clock"
    elif minute < 10:
        spoken = f"{cardinal(hour)} oh {cardinal(minute)}"
    else:
        spoken = f"{cardinal(hour)} {cardinal(minute)}"
    return f"{spoken} {meridiem.upper()}.M." if meridiem else spoken
