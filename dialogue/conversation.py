"""`Conversation`: one call. Each caller event (transcript, DTMF key, silence) becomes one `BotTurn`,
stored on the call's CRM interaction; `close` ends the interaction with an outcome.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialogue.acts import DialogueAct, ReplyContext
from dialogue.moves import REASK
from dialogue.orders import OrderDesk
from dialogue.policy import Policy, relevant_slots
from dialogue.sentiment import ANGRY_BELOW
from dialogue.state import Decision, DialogState

if TYPE_CHECKING:
    from dialogue.manager import DialogueManager

log = logging.getLogger(__name__)

DTMF_KEYS = frozenset("0123456789*#ABCD")
# Questions an offer of a person replaces (the caller is angry: one question at a time).
_QUESTIONS = {"offer_more", "ask_what_else", "ask_how_help", "ask_order_number", "ask_order_number_again",
              "ask_complaint_details", "ask_complaint_details_again", "ask_product", "ask_contact_field",
              "rephrase", "capabilities", "offer_agent", "offer_agent_again"}
MAX_DTMF_DIGITS = 12


@dataclass(frozen=True)
class BotTurn:
    text: str
    intent: str  # caller intent as resolved in context; "bot_greeting" / "no_input" for bot-initiated turns
    slots: dict = field(default_factory=dict)
    act: str = ""  # act names joined by "+", e.g. "order_shipped+offer_more"
    index: int = 0  # the turn index stored in the CRM (use it for record_turn_timings)
    generator: str = "template"  # "template" | "seq2seq" | "fallback:<reason>" (the model was asked, not used)
    confidence: float | None = None  # the reply model's confidence when it was asked (None for templates)
    end_call: bool = False
    transfer_to: str | None = None
    interruptible: bool = True
    expecting: str | None = None  # what the bot just asked for (values in dialogue/README.md)
    sentiment: float | None = None  # the caller turn's sentiment in [-1, 1] (negative = upset); None if no words
    nlu_confidence: float | None = None  # the intent classifier's confidence for the caller turn


class Conversation:
    """One call. Methods are serialised by a lock, so a pipeline may call them from any thread. Once the
    call is closed, caller events are ignored (they return None): nothing is stored on a closed call."""

    def __init__(self, manager: DialogueManager, interaction_id: int, customer: Any, direction: str,
                 reason: dict | None) -> None:
        self.manager = manager
        self.store = manager.store
        self.interaction_id = interaction_id
        self.customer = customer
        self.direction = direction
        self.reason = reason
        self.state = DialogState()
        self.orders = OrderDesk(self.store)
        self.policy = Policy(self.store, customer=customer, interaction_id=interaction_id,
                             transfer_target=manager.transfer_target, company=manager.company,
                             orders=self.orders)
        self.outcome: str | None = None
        self.closed = False
        self._next_index = 0
        self._dtmf = ""
        self._timings: dict[int, dict] = {}
        self._lock = threading.RLock()

    # --- caller events ------------------------------------------------------------------------------------

    def greet(self) -> BotTurn | None:
        with self._lock:
            if self._after_close("greet"):
                return None
            start = time.perf_counter()
            decision = self._guarded(self._greeting, "bot_greeting")
            return self._finish(decision, "", None, start, interruptible=False)

    def respond(self, text: str) -> BotTurn | None:
        if not isinstance(text, str):
            raise TypeError(f"respond: expected the transcript as str, got {type(text).__name__}")
        with self._lock:
            if self._after_close("respond"):
                return None
            start = time.perf_counter()
            self.state.silences = 0
            sentiment = self._sentiment(text)
            nlu = self.manager.nlu.parse(text)
            decision = self._guarded(lambda: self.policy.respond(self.state, text, nlu), nlu.intent)
            if self.state.angry_in_row >= 2 and not self.state.offered_person:
                decision = self._offer_person(decision)
            return self._finish(decision, text, nlu.confidence, start, sentiment=sentiment)

    def keypress(self, digit: str) -> BotTurn | None:
        """DTMF: digits collect, "#" submits an order number, "0" alone asks for a person, "*" clears."""
        if not isinstance(digit, str) or digit not in DTMF_KEYS:
            raise ValueError(f"keypress: expected one DTMF key (0-9, *, #, A-D), got {digit!r}")
        with self._lock:
            if self._after_close("keypress"):
                return None
            start = time.perf_counter()
            self.state.silences = 0
            if digit in "ABCD":
                return None
            if digit == "*":
                self._dtmf = ""
                return None
            if digit == "#":
                digits, self._dtmf = self._dtmf, ""
                return self._submit_keypad(digits, start)
            if digit == "0" and not self._dtmf:
                decision = self._guarded(lambda: self.policy.agent(self.state), "agent_request")
                return self._finish(decision, "[dtmf] 0", 1.0, start)
            if len(self._dtmf) < MAX_DTMF_DIGITS:
                self._dtmf += digit
            return None

    def no_input(self) -> BotTurn | None:
        """The caller said nothing: re-prompt once, end the call politely the second time in a row."""
        with self._lock:
            if self._after_close("no_input"):
                return None
            start = time.perf_counter()
            if self._dtmf:  # typed digits and waited: take them as submitted
                digits, self._dtmf = self._dtmf, ""
                return self._submit_keypad(digits, start)
            self.state.silences += 1
            exp = self.state.expecting
            if self.state.silences >= 2:
                self.state.ended_by = "no_input"
                decision = Decision([DialogueAct("goodbye_no_input", "no_input")], "no_input", end_call=True)
            else:
                acts = [DialogueAct("still_there", "no_input"), self._reask_act(exp)]
                decision = Decision(acts, "no_input", {}, exp, self.state.pending_intent)
            return self._finish(decision, "", None, start)

    # --- call record ----------------------------------------------------------------------------------

    def record_turn_timings(self, index: int, timings_ms: dict, interrupted: bool = False) -> None:
        """Add pipeline timings (asr_ms, tts_first_ms, ...) to a stored turn, merged with dialogue_ms.
        Never raises: timings are a nice-to-have, and closing the call must not depend on them. A turn that
        was never stored, bad timings or a failing store are logged and skipped."""
        if not isinstance(timings_ms, dict):
            log.warning("record_turn_timings: timings_ms must be a dict, got %s; turn %s not updated",
                        type(timings_ms).__name__, index)
            return
        with self._lock:
            if index not in self._timings:  # never stored (its write failed), or not one of this call's turns
                log.warning("record_turn_timings: turn %s of interaction %s was not stored; timings dropped",
                            index, self.interaction_id)
                return
            merged = {**self._timings[index], **timings_ms}
            try:
                self.store.update_turn(self.interaction_id, index, timings_ms=merged, interrupted=interrupted)
            except Exception:
                log.exception("could not store the timings of turn %s of interaction %s", index,
                              self.interaction_id)
                return
            self._timings[index] = merged

    def close(self, outcome: str | None = None, recording_path: str | None = None) -> None:
        """End the CRM interaction (once; later calls do nothing). The outcome is inferred when None."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self.outcome = outcome or self._inferred_outcome()
            scores = self.state.sentiments
            overall = round(sum(scores) / len(scores), 4) if scores else None  # mean over the caller's turns
            try:
                self.store.close_interaction(self.interaction_id, outcome=self.outcome,
                                             recording_path=recording_path, sentiment=overall)
            except ValueError:  # closed elsewhere already (e.g. by the service console)
                log.warning("interaction %s was already closed", self.interaction_id)
            except Exception:  # the caller has gone either way: log it, never leave the call half-closed
                log.exception("could not close interaction %s in the CRM", self.interaction_id)

    def _inferred_outcome(self) -> str:
        s = self.state
        if s.transferred:
            return "transferred"
        if s.tickets:
            return "ticket_created"
        if s.ended_by == "no_input":
            return "no_input"
        if s.ended_by == "goodbye" or s.informed:
            return "resolved"
        return "abandoned"

    # --- internals ------------------------------------------------------------------------------------

    def _greeting(self) -> Decision:
        names = self.policy.names()
        if self.direction == "inbound" or self.reason is None:
            return Decision([DialogueAct("greet", "", names)], "bot_greeting")
        kind = self.reason["kind"]
        callback = Decision([DialogueAct("outbound_callback", "", names)], "bot_greeting")
        if kind == "callback":
            return callback
        if kind == "ticket_followup":
            number = str(self.reason["ticket_number"]).strip().lstrip("#")
            ticket = self.store.ticket(number)
            # Someone else's ticket, or none: say nothing about it (the callee may not be who filed it).
            if ticket is None or not (ticket.customer_id is None or self._callee_is(ticket.customer_id)):
                log.warning("outbound follow-up: ticket %s is unknown or not the callee's; greeting as a callback",
                            number)
                return callback
            act = "outbound_ticket_closed" if ticket.status == "closed" else "outbound_ticket"
            return Decision([DialogueAct(act, "", {**names, "ticket_id": ticket.number})], "bot_greeting", {},
                            "anything_else")
        number = str(self.reason["order_number"]).strip().lstrip("#")
        order = self.store.order(number)
        if order is None or not self._callee_is(order.customer_id):  # never disclose another person's order
            log.warning("outbound follow-up: order %s is unknown or not the callee's; greeting as a callback", number)
            return callback
        self.state.last_order = order
        self.state.informed = True
        acts = [DialogueAct("outbound_order", "", {**names, "order_number": order.number}),
                self.orders.act(order, ""), DialogueAct("ask_questions", "")]
        return Decision(acts, "bot_greeting", {"order_number": order.number}, "anything_else")

    def _callee_is(self, customer_id: int) -> bool:
        return self.customer is not None and self.customer.id == customer_id

    def _after_close(self, event: str) -> bool:
        if self.closed:
            log.info("interaction %s is closed: ignoring a late %s", self.interaction_id, event)
        return self.closed

    def _submit_keypad(self, digits: str, start: float) -> BotTurn:
        if not digits:
            pending = self.state.pending_intent or "order_status"
            act = DialogueAct("dtmf_empty", "order_status")
            decision = Decision([act], "order_status", {}, "order_number", pending)
            return self._finish(decision, "[dtmf] #", 1.0, start)
        pending = self.state.pending_intent if self.state.expecting == "order_number" else None
        pending = pending or "order_status"
        decision = self._guarded(lambda: self.policy.number_answer(self.state, digits, pending, {}), pending)
        return self._finish(decision, f"[dtmf] {digits}#", 1.0, start)

    def _reask_act(self, expecting: str | None) -> DialogueAct:
        return self.policy.plain_acts([REASK.get(expecting, "ask_how_help")], "")[0]

    def _sentiment(self, text: str) -> float | None:
        """Score the caller's words and count angry turns in a row; None when nothing was said ("um",
        "[BLANK_AUDIO]"): silence neither counts as calm nor breaks a run of angry turns."""
        try:
            score = self.manager.sentiment.score(text)
        except Exception:  # the caller's answer matters more than the mood
            log.exception("sentiment failed in interaction %s", self.interaction_id)
            score = None
        if score is not None:
            self.state.sentiments.append(score)
            self.state.angry_in_row = self.state.angry_in_row + 1 if score < ANGRY_BELOW else 0
        return score

    def _offer_person(self, decision: Decision) -> Decision:
        """Angry twice in a row: keep what the turn answers, but offer a person instead of asking on."""
        if decision.transfer_to or decision.end_call or decision.expecting in {"confirm_agent", "confirm_callback"}:
            return decision  # already handing over (or ending)
        self.state.offered_person = True
        kept = [a for a in decision.acts if a.name not in _QUESTIONS]
        if self.manager.transfer_target:
            offer, expecting = "offer_agent_upset", "confirm_agent"
        else:
            offer, expecting = "offer_callback_upset", "confirm_callback"
        acts = kept + [DialogueAct(offer, decision.intent)]
        return Decision(acts, decision.intent, decision.slots, expecting, decision.intent)

    def _guarded(self, decide: Callable[[], Decision], intent: str) -> Decision:
        """Run the policy; a CRM failure becomes an apology and an offer of a person, not dead air."""
        try:
            return decide()
        except Exception:
            log.exception("dialogue policy failed in interaction %s", self.interaction_id)
            return Decision([DialogueAct("system_error", intent)], intent, {}, "confirm_agent")

    def _finish(self, decision: Decision, transcript: str, confidence: float | None, start: float,
                interruptible: bool = True, sentiment: float | None = None) -> BotTurn:
        index = self._next_index
        self._next_index += 1
        names = tuple(a.name for a in decision.acts)
        context = ReplyContext(index, transcript, self.state.last_acts, self.manager.company,
                               intent=decision.intent, slots=dict(decision.slots),
                               previous_text=self.state.last_delexicalised, sentiment=sentiment, acts=names)
        rendered = self.manager.render(decision.acts, context)
        text = rendered.text
        self.state.expecting = decision.expecting
        self.state.pending_intent = decision.pending_intent
        if "repeat" not in names:  # "say that again" twice must not nest the repeat
            self.state.last_reply = text
            self.state.last_delexicalised = rendered.delexicalised
        self.state.last_acts = names
        slots = relevant_slots(decision.intent, decision.slots)
        timings = {"dialogue_ms": round((time.perf_counter() - start) * 1000, 2)}
        self._timings[index] = timings
        try:
            self.store.add_turn(self.interaction_id, index=index, transcript=transcript,
                                intent=decision.intent, slots=slots, reply=text, generator=rendered.generator,
                                sentiment=sentiment, timings_ms=timings)
        except Exception:  # losing the log line must not cost the caller the answer
            log.exception("could not store turn %s of interaction %s", index, self.interaction_id)
            self._timings.pop(index, None)  # no stored turn to add timings to later
        return BotTurn(text=text, intent=decision.intent, slots=slots, act="+".join(names), index=index,
                       generator=rendered.generator, confidence=rendered.confidence, end_call=decision.end_call,
                       transfer_to=decision.transfer_to, interruptible=interruptible,
                       expecting=decision.expecting, sentiment=sentiment, nlu_confidence=confidence)
