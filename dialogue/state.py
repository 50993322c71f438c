"""What one conversation remembers between turns, and what the policy decides for one turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dialogue.acts import DialogueAct


@dataclass
class DialogState:
    expecting: str | None = None  # what the bot just asked for; values in dialogue/README.md
    pending_intent: str | None = None  # the request waiting for `expecting` to be answered
    last_order: Any = None  # OrderView of the last order found: "and when will it arrive?"
    last_product: str | None = None  # catalog name: "is it in stock?"
    complaint_texts: list[str] = field(default_factory=list)  # a complaint waiting for its details
    complaint_order: str | None = None
    misunderstandings: int = 0  # in a row
    silences: int = 0  # no-input events in a row
    tickets: list[str] = field(default_factory=list)
    transferred: bool = False
    informed: bool = False  # the caller got at least one answer from the CRM
    ended_by: str | None = None  # "goodbye" | "no_input"
    last_reply: str = ""
    last_delexicalised: str = ""  # last_reply with its [placeholders]: what a reply model conditions on
    last_acts: tuple[str, ...] = ()
    sentiments: list[float] = field(default_factory=list)  # one score per caller turn with words
    angry_in_row: int = 0  # caller turns below sentiment.ANGRY_BELOW, in a row
    offered_person: bool = False  # the anger offer is made once per call


@dataclass
class Decision:
    acts: list[DialogueAct]
    intent: str  # the caller intent as resolved in context (stored with the turn)
    slots: dict[str, str] = field(default_factory=dict)
    expecting: str | None = None
    pending_intent: str | None = None
    end_call: bool = False
    transfer_to: str | None = None
