"""Dialogue acts and the reply-generator interface.

The policy decides *what* to say as `DialogueAct`s (name + values taken from the CRM); a `ReplyGenerator`
decides *how*, returning delexicalised text with `[placeholder]`s; `fill` puts the values in. Any generator
(templates today, a trained Seq2Seq later) plugs in without touching the policy. See dialogue/README.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

PLACEHOLDER_RE = re.compile(r"\[([a-z_]+)\]")


@dataclass(frozen=True)
class DialogueAct:
    name: str  # one of ACTS
    intent: str  # the caller intent this act answers ("" for bot-initiated acts)
    values: dict[str, str] = field(default_factory=dict)  # placeholder name → surface value, from the CRM


@dataclass(frozen=True)
class GeneratedReply:
    text: str  # delexicalised: "Order [order_number] has shipped ..."
    generator: str  # "template", "seq2seq", ...
    confidence: float | None = None  # None: the generator cannot tell (the gate then skips that check)
    finished: bool = True  # False when a length cap cut the text


@dataclass(frozen=True)
class ReplyContext:
    """What a generator may condition on besides the act."""

    turn_index: int
    caller_text: str = ""
    previous_acts: tuple[str, ...] = ()  # act names of the previous bot turn
    company: str = "Acme"
    intent: str = ""  # the caller intent as resolved in context
    slots: dict[str, str] = field(default_factory=dict)  # what the turn knows (order_number, product, ...)
    previous_text: str = ""  # the previous bot turn, delexicalised ("Order [order_number] has ...")
    sentiment: float | None = None  # the caller turn's sentiment score in [-1, 1]; None for bot-initiated turns
    acts: tuple[str, ...] = ()  # every act of this turn, in order


@runtime_checkable
class ReplyGenerator(Protocol):
    name: str

    def generate(self, act: DialogueAct, context: ReplyContext) -> GeneratedReply: ...


class MissingValue(KeyError):
    """A generated text used a placeholder the act has no value for."""


class Declined(Exception):
    """A generator declines an act (e.g. one added after it was trained); the manager says the template,
    marked `fallback:<reason>`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER_RE.findall(text))


def fill(text: str, values: dict[str, str]) -> str:
    """Replace every `[name]` by `values[name]`; an unknown placeholder raises MissingValue."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            raise MissingValue(f"reply uses [{name}] but the act has no value for it")
        return str(values[name])

    return PLACEHOLDER_RE.sub(sub, text)


# Every act the policy emits, with the values the reply must mention (a generator whose text drops one is
# not used for that act) and the optional values it may use.
ACTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # name: (required, optional)
    "greet": (("company",), ("customer_name",)),
    "outbound_order": (("company", "order_number"), ("customer_name",)),
    "outbound_ticket": (("company", "ticket_id"), ("customer_name",)),
    "outbound_ticket_closed": (("company", "ticket_id"), ("customer_name",)),
    "outbound_callback": (("company",), ("customer_name",)),
    "ask_how_help": ((), ("customer_name",)),
    "ask_questions": ((), ()),
    "system_error": ((), ()),
    "ask_order_number_again": ((), ()),
    "ask_complaint_details_again": ((), ()),
    "offer_agent_again": ((), ()),
    "offer_agent_upset": ((), ()),  # a caller angry twice in a row: offered a person (transfer target set)
    "offer_callback_upset": ((), ()),  # ... or a callback when no one can take the call
    "ask_callback": ((), ()),
    "order_pending": (("order_number", "order_status"), ("expected_delivery",)),
    "order_processing": (("order_number", "order_status"), ("expected_delivery",)),
    "order_shipped": (
        ("order_number", "order_status"),
        ("carrier", "expected_delivery", "shipped_on", "tracking"),
    ),
    "order_out_for_delivery": (
        ("order_number", "order_status"),
        ("carrier", "expected_delivery", "tracking"),
    ),
    "order_delivered": (("order_number", "order_status"), ("delivered_on", "carrier")),
    "order_cancelled": (("order_number", "order_status"), ()),
    "order_returned": (("order_number", "order_status"), ()),
    # Still on its way after the expected day (a past date, said as a past one).
    "order_late": (("order_number", "order_status", "expected_delivery"), ("carrier", "shipped_on", "tracking")),
    "order_not_found": (("order_number",), ()),
    "ask_order_number": ((), ("order_list",)),
    "product_in_stock": (("product_name", "product_price"), ("stock", "description")),
    "product_out_of_stock": (("product_name", "product_price"), ("description",)),
    "product_unknown": (("product_list",), ()),
    "ask_product": (("product_list",), ()),
    "purchase_in_stock": (("product_name", "product_price"), ("stock",)),
    "purchase_out_of_stock": (("product_name", "product_price"), ()),
    "ask_complaint_details": ((), ()),
    "ticket_opened": (("ticket_id", "team"), ("order_number",)),
    "return_policy": (("return_days",), ()),
    "return_opened": (("ticket_id", "team", "order_number"), ("return_days",)),
    "return_not_possible": (("return_days",), ()),  # after the order's own act: not delivered, or too long ago
    "transfer": ((), ()),
    "no_agent_offer_callback": ((), ()),
    "callback_opened": (("ticket_id", "team"), ()),
    "ask_contact_field": ((), ()),
    "contact_update_opened": (("ticket_id", "team", "contact_field"), ()),
    "greet_back": ((), ("customer_name",)),
    "youre_welcome": ((), ()),
    "offer_more": ((), ()),
    "ask_what_else": ((), ()),
    "goodbye": (("company",), ("customer_name",)),
    "goodbye_no_input": ((), ()),
    "still_there": ((), ()),
    "not_understood": ((), ()),
    "rephrase": ((), ()),
    "capabilities": ((), ()),
    "offer_agent": ((), ()),
    "repeat": (("last_reply",), ()),
    "nothing_to_repeat": ((), ()),
    "dtmf_empty": ((), ()),
}
