"""The dialogue policy: from (state, NLU result) to dialogue acts, every fact read from the CRM.

Context first (an answer to what the bot just asked wins over the classifier), then the caller's intent.
The moves live in answers.py (order status, catalog) and tickets.py (complaints, returns, hand-over);
replies are only chosen here, never worded (see templates.py).
"""

from __future__ import annotations

from dialogue.acts import DialogueAct
from dialogue.answers import Answers
from dialogue.nlu import NluResult, said_nothing
from dialogue.slots import MIN_ORDER_DIGITS, digits_only_answer
from dialogue.state import Decision, DialogState
from dialogue.tickets import TicketMoves

# Intents that still mean themselves while the bot waits for an answer.
_ESCAPES = {"agent_request", "goodbye", "repeat"}
# Slots kept with a turn, by resolved intent (order_number always): no "complaint_category" on a greeting.
RELEVANT_SLOTS = {
    "order_status": {"product"}, "product_info": {"product"}, "purchase_intent": {"product"},
    "complaint": {"product", "complaint_category"}, "return_request": {"product", "complaint_category"},
    "update_contact": {"contact_field"},
}
# A low-confidence guess stands when the caller named what that intent is about.
_BACKING_SLOT = {"order_status": "order_number", "product_info": "product", "purchase_intent": "product",
                 "complaint": "complaint_category", "update_contact": "contact_field"}
# Intents answered without the CRM: (acts, what the bot then waits for).
_SMALL_TALK = {
    "greeting": (["greet_back"], None), "thanks": (["youre_welcome", "offer_more"], "anything_else"),
    "affirm": (["ask_how_help"], None), "deny": (["offer_more"], "anything_else"),
}
# While the bot waits for a complaint's details, a turn is taken as those details only when it sounds like one;
# "actually where is my order 4567" is a new question and gets its answer.
_DETAIL_INTENTS = {"complaint", "out_of_scope", "return_request"}
# What a bare number answers, by what the bot was waiting for.
_NUMBER_ANSWERS = {"order_number", "complaint_details"}


class Policy(Answers, TicketMoves):
    def respond(self, state: DialogState, text: str, nlu: NluResult) -> Decision:
        slots = dict(nlu.slots)
        intent = nlu.intent
        exp = state.expecting
        # Any understood turn breaks a run of misunderstandings; a misunderstanding counts on from `misses`.
        misses, state.misunderstandings = state.misunderstandings, 0
        if said_nothing(text):
            return self._misunderstood(state, "not_understood", nlu.intent, slots, misses)

        digits = digits_only_answer(text)
        if digits and (exp == "order_number" or len(digits) >= MIN_ORDER_DIGITS):
            # A bare number is an order number, whatever the classifier thinks of it; it answers the request
            # waiting for one (a complaint keeps waiting for its details, now with the order).
            pending = state.pending_intent if exp in _NUMBER_ANSWERS else None
            return self.number_answer(state, digits, pending or "order_status", slots)
        if exp is not None:
            decision = self._answer_to(exp, state, text, intent, slots)
            if decision is not None:
                return decision
        if nlu.uncertain:
            if _BACKING_SLOT.get(nlu.guess) not in slots:
                return self._misunderstood(state, "rephrase", nlu.intent, slots, misses)
            intent = nlu.guess  # a hesitant guess backed by what the caller named (an order, a product)
        return self._by_intent(state, text, intent, slots, misses)

    def number_answer(self, state: DialogState, number: str, pending: str, slots: dict[str, str]) -> Decision:
        """An order number given as an answer (speech or keypad) for the pending request."""
        slots = {**slots, "order_number": number}
        if pending == "return_request":
            return self._return(state, f"Return request for order {number}", slots)
        if pending == "complaint":
            state.complaint_order = number
            return self._decide(["ask_complaint_details"], "complaint", slots, "complaint_details", "complaint")
        return self._order_status(state, slots)

    def _answer_to(self, exp: str, state: DialogState, text: str, intent: str,
                   slots: dict[str, str]) -> Decision | None:
        """The caller's reply read as an answer to what the bot asked; None when it is something else."""
        escaping = intent in _ESCAPES
        if exp == "order_number":
            number = slots.get("order_number")
            if number and intent not in {"agent_request", "goodbye", "complaint", "return_request"}:
                return self.number_answer(state, number, state.pending_intent or "order_status", slots)
            if intent == "affirm":  # "yes" to "would you like to try another number?"
                pending = state.pending_intent
                return self._decide(["ask_order_number_again"], intent, slots, "order_number", pending)
            if intent == "deny":
                return self._done_asking(intent, slots)
            order = self.orders.by_product(self.customer, slots.get("product"))  # "the one with the blender"
            if order is not None and intent in {"order_status", "out_of_scope"}:
                return self.number_answer(state, order.number, state.pending_intent or "order_status", slots)
        elif exp == "complaint_details" and not escaping:
            if intent == "deny":
                state.complaint_texts.clear()
                return self._done_asking(intent, slots)
            if intent in _DETAIL_INTENTS or "complaint_category" in slots:
                return self._complaint(state, text, slots, detailed=True)
        elif exp == "product" and slots.get("product") and not escaping:
            pending = state.pending_intent if state.pending_intent == "purchase_intent" else "product_info"
            return self._product(state, text, slots, pending)
        elif exp == "contact_field" and slots.get("contact_field") and not escaping:
            return self._update_contact(state, slots)
        elif exp in {"confirm_agent", "confirm_callback"} and intent in {"affirm", "deny"}:
            if intent == "deny":
                return self._decide(["ask_how_help"], intent, slots, None)
            if exp == "confirm_agent":
                return self.agent(state, intent, slots)
            return self._callback(state, intent, slots)
        elif exp == "anything_else" and intent in {"affirm", "deny"}:
            if intent == "affirm":
                return self._decide(["ask_what_else"], intent, slots, None)
            return self._goodbye(state, intent, slots)
        return None

    def _by_intent(self, state: DialogState, text: str, intent: str, slots: dict[str, str],
                   misses: int) -> Decision:
        if intent == "order_status":
            return self._order_status(state, slots)
        if intent in {"product_info", "purchase_intent"}:
            return self._product(state, text, slots, intent)
        if intent == "complaint":
            return self._complaint(state, text, slots, detailed=False)
        if intent == "return_request":
            return self._return(state, text, slots)
        if intent == "agent_request":
            return self.agent(state, intent, slots)
        if intent == "update_contact":
            return self._update_contact(state, slots)
        if intent == "goodbye":
            return self._goodbye(state, intent, slots)
        if intent == "repeat":
            if not state.last_reply:
                return self._decide(["nothing_to_repeat"], intent, slots, None)
            act = DialogueAct("repeat", intent, {"last_reply": state.last_reply})
            return Decision([act], intent, slots, state.expecting, state.pending_intent)
        if intent in _SMALL_TALK:
            names, expecting = _SMALL_TALK[intent]
            return self._decide(names, intent, slots, expecting)
        return self._misunderstood(state, "capabilities", intent, slots, misses)


def relevant_slots(intent: str, slots: dict[str, str]) -> dict[str, str]:
    """The slots that mean something for the resolved intent (stored with the turn and scored by QA)."""
    keep = {"order_number"} | RELEVANT_SLOTS.get(intent, set())
    return {k: v for k, v in slots.items() if k in keep}

