"""`Conversation`: one call. Each caller event (transcript, DTMF key, silence) becomes one `BotTurn`,
stored on the call's CRM interaction; `close` ends the interaction with an outcome.
"""

from __future__ import annotations

import logging
import threading
import time
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
    expecting: str | None = None  # what the bot just asked for (see dialogue.state.EXPECTING)
    sentiment: float | None = None  # the caller turn's sentiment in [-1, 1] (negative = upset); None if no words
    nlu_confidence: float | None = None  # the intent classifier's confidence for the caller turn


class Conversation:
    """One call. Methods are serialised by a lock, so a pipeline may call them from any thread."""

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

    def greet(self) -> BotTurn:
        with self._lock:
            start = time.perf_counter()
            decision = self._greeting()
            return self._finish(decision, "", None, start, interruptible=False)

    def respond(self, text: str) -> BotTurn:
        if not isinstance(text, str):
            raise TypeError(f"respond: expected the transcript as str, got {type(text).__name__}")
        with self._lock:
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

    def no_input(self) -> BotTurn:
        """The caller said nothing: re-prompt once, end the call politely the second time in a row."""
        with self._lock:
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
        """Add pipeline timings (asr_ms, tts_first_ms, ...) to a stored turn, merged with dialogue_ms."""
        if not isinstance(timings_ms, dict):
            raise ValueError(f"timings_ms must be a dict, got {type(timings_ms).__name__}")
        with self._lock:
            merged = {**self._timings.get(index, {}), **timings_ms}
            self.store.update_turn(self.interaction_id, index, timings_ms=merged, interrupted=interrupted)
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
        if kind == "ticket_followup":
            ticket = str(self.reason["ticket_number"]).strip().lstrip("#")
            act = DialogueAct("outbound_ticket", "", {**names, "ticket_id": ticket})
            return Decision([act], "bot_greeting", {}, "anything_else")
        if kind == "callback":
            return Decision([DialogueAct("outbound_callback", "", names)], "bot_greeting")
        number = str(self.reason["order_number"]).strip().lstrip("#")
        acts = [DialogueAct("outbound_order", "", {**names, "order_number": number})]
        order = self.store.order(number)
        if order is None:  # never invent a status: just offer help
            log.warning("outbound follow-up for unknown order %s", number)
            acts.append(DialogueAct("ask_how_help", ""))
            return Decision(acts, "bot_greeting", {"order_number": number})
        self.state.last_order = order
        self.state.informed = True
        acts += [DialogueAct(f"order_{order.status}", "", self.orders.values(order)),
                 DialogueAct("ask_questions", "")]
        return Decision(acts, "bot_greeting", {"order_number": number}, "anything_else")

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
        return self.policy.acts([REASK.get(expecting, "ask_how_help")], "")[0]

    def _sentiment(self, text: str) -> float | None:
        """Score the caller's words and count angry turns in a row; None when nothing scorable was said."""
        try:
            score = self.manager.sentiment.score(text) if text.strip() else None
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

    def _guarded(self, decide: Any, intent: str) -> Decision:
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
        return BotTurn(text=text, intent=decision.intent, slots=slots, act="+".join(names), index=index,
                       generator=rendered.generator, confidence=rendered.confidence, end_call=decision.end_call,
                       transfer_to=decision.transfer_to, interruptible=interruptible,
                       expecting=decision.expecting, sentiment=sentiment, nlu_confidence=confidence)
