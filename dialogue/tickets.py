"""Policy moves that file something with the team: complaints, returns, callbacks, contact updates,
and handing the call to a person."""

from __future__ import annotations

from dialogue.acts import DialogueAct
from dialogue.moves import Moves
from dialogue.spoken import CONTACT_FIELD_WORDS
from dialogue.state import Decision, DialogState

RETURN_DAYS = 30
MAX_UTTERANCE_CHARS = 1000  # per caller utterance quoted in a ticket (the store takes 5000 in all)


class TicketMoves(Moves):
    def _complaint(self, state: DialogState, text: str, slots: dict[str, str], detailed: bool) -> Decision:
        """Open a ticket; without any detail yet ("I want to complain") ask what happened first."""
        intent = "complaint"
        if not detailed:
            state.complaint_texts.clear()  # a new complaint; an abandoned one is not carried over
        state.complaint_texts.append(text.strip()[:MAX_UTTERANCE_CHARS])
        if state.complaint_order and "order_number" not in slots:
            slots = {**slots, "order_number": state.complaint_order}
        number = self._order_number_from_context(state, slots)
        category = slots.get("complaint_category")
        if category is None and not detailed:
            state.complaint_order = number
            return self._decide(["ask_complaint_details"], intent, slots, "complaint_details", intent)
        order = self.store.order(number) if number else None
        ticket = self._open_ticket(state, category or "other", " / ".join(state.complaint_texts), order)
        state.complaint_texts.clear()
        state.complaint_order = None
        values = {"ticket_id": ticket.number, "team": ticket.team}
        if order is not None:
            values["order_number"] = order.number
        acts = [DialogueAct("ticket_opened", intent, values), DialogueAct("offer_more", intent)]
        return Decision(acts, intent, {**slots, "complaint_category": ticket.category}, "anything_else")

    def _return(self, state: DialogState, text: str, slots: dict[str, str]) -> Decision:
        """The return policy; with an order named, a return ticket (damaged when it is broken) if the order
        was delivered within the return window, else the order's status and why no return is started."""
        intent = "return_request"
        days = {"return_days": str(RETURN_DAYS)}
        number = self._order_number_from_context(state, slots)
        if number is None:
            act = DialogueAct("return_policy", intent, days)
            return Decision([act], intent, slots, "order_number", intent)
        order = self.store.order(number)
        if order is None:
            return self._not_found(number, intent, slots)
        state.last_order = order
        if not self.orders.returnable(order, RETURN_DAYS):  # cancelled, not delivered yet, too long ago, ...
            state.informed = True
            acts = [self.orders.act(order, intent), DialogueAct("return_not_possible", intent, days),
                    DialogueAct("offer_more", intent)]
            return Decision(acts, intent, slots, "anything_else")
        category = "damaged" if slots.get("complaint_category") in {"damaged", "quality"} else "other"
        said = text.strip()[:MAX_UTTERANCE_CHARS]
        ticket = self._open_ticket(state, category, f"Return request: {said}", order)
        values = {"ticket_id": ticket.number, "team": ticket.team, "order_number": order.number,
                  "return_days": str(RETURN_DAYS)}
        acts = [DialogueAct("return_opened", intent, values), DialogueAct("offer_more", intent)]
        return Decision(acts, intent, slots, "anything_else")

    def agent(self, state: DialogState, intent: str = "agent_request",
              slots: dict[str, str] | None = None) -> Decision:
        """Hand over to a person (voice or the 0 key); without a transfer target, offer a callback."""
        slots = slots or {}
        if self.transfer_target:
            state.transferred = True
            act = DialogueAct("transfer", intent)
            return Decision([act], intent, slots, transfer_to=self.transfer_target)
        return self._decide(["no_agent_offer_callback"], intent, slots, "confirm_callback", intent)

    def _callback(self, state: DialogState, intent: str, slots: dict[str, str]) -> Decision:
        ticket = self._open_ticket(state, "service", "Caller asked for a callback from a person", None)
        values = {"ticket_id": ticket.number, "team": ticket.team}
        acts = [DialogueAct("callback_opened", intent, values), DialogueAct("offer_more", intent)]
        return Decision(acts, intent, slots, "anything_else")

    def _update_contact(self, state: DialogState, slots: dict[str, str]) -> Decision:
        """Ask which detail, then a callback ticket: emails and addresses are not taken by voice."""
        intent = "update_contact"
        field = slots.get("contact_field")
        if field is None:
            return self._decide(["ask_contact_field"], intent, slots, "contact_field", intent)
        words = CONTACT_FIELD_WORDS[field]
        ticket = self._open_ticket(state, "service", f"Caller asked to update their {words}", None)
        values = {"ticket_id": ticket.number, "team": ticket.team, "contact_field": words}
        acts = [DialogueAct("contact_update_opened", intent, values), DialogueAct("offer_more", intent)]
        return Decision(acts, intent, slots, "anything_else")
