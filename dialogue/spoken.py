"""CRM values → the plain surface forms replies use ("$79.99", "Friday", "order 4567").

The TTS normaliser reads numbers, prices and ISO dates aloud, so values stay plain text here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

CONTACT_FIELD_WORDS = {"email": "email address", "phone": "phone number", "address": "address"}


def money(amount: Decimal) -> str:
    """$199 for whole amounts, $79.99 otherwise."""
    amount = Decimal(amount).quantize(Decimal("0.01"))
    return f"${amount:.0f}" if amount == amount.to_integral_value() else f"${amount}"


_NEAR_DAYS = {-1: "yesterday", 0: "today", 1: "tomorrow"}


def spoken_date(day: dt.date, today: dt.date, *, relative: bool = False) -> str:
    """A weekday name within a week either side of today ("Friday"), else ISO ("2026-12-03"). `relative`
    (for "should arrive by ...", "was due by ...") says "yesterday" / "today" / "tomorrow" next to today;
    dates said after "on" ("shipped on Friday") keep the weekday."""
    offset = (day - today).days
    if relative and offset in _NEAR_DAYS:
        return _NEAR_DAYS[offset]
    if abs(offset) <= 6:
        return day.strftime("%A")
    return day.isoformat()


def spoken_list(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def status_words(status: str) -> str:
    return status.replace("_", " ")
