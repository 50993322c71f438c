"""Shared building blocks of the policy: asking, acts without CRM facts, tickets, misunderstandings."""

from __future__ import annotations

from typing import Any

from dialogue.acts import DialogueAct
from dialogue.crm import Crm
from dialogue.orders import OrderDesk
from dialogue.spoken import spoken_list
from dialogue.state import Decision, DialogState

LISTED_PRODUCTS = 4
# Re-asking what the bot was waiting for, after "sorry, I didn't catch that" or "are you still there?".
REASK = {
    "order_number": "ask_order_number_again", "product": "ask_product",
    "complaint_details": "ask_complaint_details_again", "contact_field": "ask_contact_field",
    "anything_else": "offer_more", "confirm_agent": "offer_agent_again", "confirm_callback": "ask_callback",
    None: "ask_how_help",
}


class Moves:
    """One per conversation (it knows the caller); the store is shared and thread-safe."""

    def __init__(self, store: Crm, *, customer: Any, interaction_id: int, transfer_target: str | None,
                 company: str, orders: OrderDesk | None = None) -> None:
        self.store = store
        self.customer = customer
        self.interaction_id = interaction_id
        self.transfer_target = transfer_target
        self.company = company
        self.orders = orders or OrderDesk(store)

    def names(self) -> dict[str, str]:
        """Values for greetings and goodbyes: the company, and the caller's first name when known."""
        values = {"company": self.company}
        if self.customer is not None and self.customer.first_name:
            values["customer_name"] = self.customer.first_name
        return values

    def plain_acts(self, names: list[str], intent: str) -> list[DialogueAct]:
        """Acts that need no CRM facts beyond the caller's name and the catalog."""
        acts = []
        for name in names:
            values: dict[str, str] = {}
            if name in {"greet_back", "ask_how_help"}:
                values = self.names()
            elif name == "ask_product":
                values = {"product_list": self._product_list()}
            acts.append(DialogueAct(name, intent, values))
        return acts

    def _decide(self, names: list[str], intent: str, slots: dict[str, str], expecting: str | None,
                pending: str | None = None) -> Decision:
        """A decision made of plain acts, waiting for `expecting` (for the `pending` request)."""
        return Decision(self.plain_acts(names, intent), intent, slots, expecting, pending)

    def _goodbye(self, state: DialogState, intent: str, slots: dict[str, str]) -> Decision:
        state.ended_by = "goodbye"
        return Decision([DialogueAct("goodbye", intent, self.names())], intent, slots, end_call=True)

    def _done_asking(self, intent: str, slots: dict[str, str]) -> Decision:
        return self._decide(["offer_more"], intent, slots, "anything_else")

    def _misunderstood(self, state: DialogState, act: str, intent: str, slots: dict[str, str],
                       misses: int) -> Decision:
        """Sorry + re-ask; the second misunderstanding in a row (`misses` before this turn) offers a person."""
        state.misunderstandings = misses + 1
        if state.misunderstandings >= 2:
            return self._decide(["offer_agent"], intent, slots, "confirm_agent")
        if act == "capabilities":
            return self._decide([act], intent, slots, None)
        return self._decide([act, REASK[state.expecting]], intent, slots, state.expecting, state.pending_intent)

    def _not_found(self, number: str, intent: str, slots: dict[str, str]) -> Decision:
        """Say so and repeat the digits back; the next number answer retries the same request."""
        values = {"order_number": number}  # "order 9999": the TTS reads order numbers digit by digit
        act = DialogueAct("order_not_found", intent, values)
        return Decision([act], intent, slots, "order_number", intent)

    def _product_list(self) -> str:
        """A few products we have, in-stock ones first."""
        catalog = sorted(self.store.products(), key=lambda p: not p.in_stock)
        return spoken_list([f"the {p.name}" for p in catalog[:LISTED_PRODUCTS]])

    def _open_ticket(self, state: DialogState, category: str, text: str, order: Any) -> Any:
        ticket = self.store.open_ticket(
            category=category, text=text, customer_id=self.customer.id if self.customer is not None else None,
            order_number=order.number if order is not None else None, interaction_id=self.interaction_id)
        state.tickets.append(ticket.number)
        return ticket

    def _order_number_from_context(self, state: DialogState, slots: dict[str, str]) -> str | None:
        """The order the caller means: said now, else the known caller's order with the named product,
        else the last order discussed."""
        number = slots.get("order_number")
        if number is None:
            order = self.orders.by_product(self.customer, slots.get("product"))
            number = order.number if order is not None else None
        if number is None and state.last_order is not None:
            number = state.last_order.number
        return number
