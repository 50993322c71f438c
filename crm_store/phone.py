"""Phone numbers as callers present them -> E.164.

Caller IDs arrive as SIP URIs (``"Alice" <sip:+15551230001@10.0.0.1:5060;user=phone>``), tel: URIs, or as
typed or spoken numbers with punctuation. Numbers without a country code are read as North American (+1),
the demo's numbering plan; other countries must be given with ``+`` or ``00``.
"""

from __future__ import annotations

import re

DEFAULT_COUNTRY_CODE = "1"
# A suffix match needs a whole national number: 7 digits ("123-0001") would name a customer from a fragment.
MIN_SUFFIX_DIGITS = 10
_URI = re.compile(r"(?:sips?|tel):([^@;>?]*)", re.IGNORECASE)
_ALLOWED = re.compile(r"^[\d\s().+\-/]*$")


def _number_part(raw: str) -> str:
    """The number text inside a SIP/tel URI, or the raw text itself."""
    match = _URI.search(raw)
    return match.group(1) if match else raw


def to_e164(raw: str | int | None, country_code: str = DEFAULT_COUNTRY_CODE) -> str | None:
    """E.164 form (``+15551230001``) of a number or SIP/tel URI, or None if it is not a phone number."""
    if raw is None or raw == "":
        return None
    text = _number_part(str(raw).strip()).strip()
    if not text or not _ALLOWED.match(text):
        return None  # "anonymous", "alice" in sip:alice@host, letters: not a number
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        national = None
    elif digits.startswith("00"):
        digits, national = digits[2:], None
    else:
        national = digits
    if national is not None:
        if country_code == "1" and len(national) == 11 and national.startswith("1"):
            digits = national  # 1 555 123 0001: trunk prefix "1" is the country code
        elif country_code == "1" and len(national) == 10:
            digits = country_code + national
        else:
            return None  # no country code and not a national number we can complete
    if not 7 <= len(digits) <= 15 or digits.startswith("0"):
        return None
    return "+" + digits


def national_digits(raw: str | int | None) -> str | None:
    """Digits of a number that lacks a country code, for a last-resort suffix match (at least
    MIN_SUFFIX_DIGITS: a full national number, never a fragment of one)."""
    if raw is None or raw == "":
        return None
    text = _number_part(str(raw).strip()).strip()
    if not _ALLOWED.match(text) or text.startswith("+"):
        return None
    digits = re.sub(r"\D", "", text).lstrip("0")  # national trunk prefix "0" (UK, DE, ...)
    return digits if MIN_SUFFIX_DIGITS <= len(digits) <= 15 else None
