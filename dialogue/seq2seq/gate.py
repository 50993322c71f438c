"""The safety gate: every generated reply is checked before it is spoken; the first failed check names the
fallback reason (`BotTurn.generator == "fallback:<reason>"`) and the template is said instead.

placeholder  a placeholder the manager cannot fill for this act, a required one missing, an order/ticket
             number without its label word, or a fact written out (digits, a price) instead of a placeholder
intent       content that belongs to another act: an order status in a complaint turn, stock talk outside the
             catalog, a ticket or a transfer that was not made, a goodbye that does not end the call; an act's
             key message missing (an out-of-stock answer that never says "out of stock"); or sympathy for a
             problem the caller did not report ("sorry it arrived damaged" when the turn's complaint
             category is not "damaged")
length       empty, cut by the length cap, or longer than MAX_WORDS
unknown_word the model wrote its unknown-word token
confidence   exp(mean token log-prob) below the threshold
"""

from __future__ import annotations

import re

from dialogue.acts import ACTS, DialogueAct, placeholders

MAX_WORDS = 60
DEFAULT_MIN_CONFIDENCE = 0.6

# Claims by topic: (pattern, the acts allowed to make it).
_ORDER_ACTS = {f"order_{s}" for s in ("pending", "processing", "shipped", "out_for_delivery", "delivered",
                                      "cancelled", "returned")} | {"outbound_order"}
_TICKET_ACTS = {"ticket_opened", "return_opened", "callback_opened", "contact_update_opened", "outbound_ticket"}
_TOPICS: list[tuple[str, re.Pattern[str], set[str]]] = [
    ("order status", re.compile(r"\[order_status\]|\[expected_delivery\]|\[shipped_on\]|\[delivered_on\]|"
                                r"\[tracking\]|\[carrier\]|\b(has shipped|was delivered|out for delivery|"
                                r"was cancelled|in our warehouse|should arrive|should reach you)\b", re.I),
     _ORDER_ACTS),
    ("stock", re.compile(r"\[stock\]|\b(in stock|out of stock|sold out|back in stock)\b", re.I),
     {"product_in_stock", "product_out_of_stock", "purchase_in_stock", "purchase_out_of_stock"}),
    ("ticket", re.compile(r"\[ticket_id\]|\bticket\b|\breference\b|\bi've (opened|logged)\b", re.I),
     _TICKET_ACTS),
    ("transfer", re.compile(r"\b(transferring|connecting you|please hold)\b", re.I), {"transfer"}),
    ("return started", re.compile(r"\b(started a return|return label)\b", re.I),
     {"return_opened", "return_policy"}),
    ("goodbye", re.compile(r"\b(goodbye|bye)\b", re.I), {"goodbye", "goodbye_no_input"}),
]
# The message an act must carry, whatever the wording.
_MUST_SAY: dict[str, re.Pattern[str]] = {
    "order_not_found": re.compile(r"\b(find|found)\b", re.I),
    "product_out_of_stock": re.compile(r"\bout of stock\b", re.I),
    "purchase_out_of_stock": re.compile(r"\bout of stock\b", re.I),
    "product_in_stock": re.compile(r"\bin stock\b|\bavailable\b", re.I),
    "purchase_in_stock": re.compile(r"\bin stock\b|\bavailable\b", re.I),
    "transfer": re.compile(r"\b(transferring|connecting)\b", re.I),
    "ticket_opened": re.compile(r"\[ticket_id\]", re.I),
    "no_agent_offer_callback": re.compile(r"\bcall you back\b|\bcallback\b", re.I),
    "offer_callback_upset": re.compile(r"\bcall you back\b|\bcallback\b", re.I),
    "offer_agent_upset": re.compile(r"\bperson\b", re.I),
}
# Sympathy that names the caller's problem must match the complaint category the NLU found in their words.
_PROBLEM_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bdamaged\b", re.I), "damaged"),
    (re.compile(r"\b(isn't working|not working)\b", re.I), "quality"),
    (re.compile(r"\bbilling\b", re.I), "billing"),
    (re.compile(r"\b(the delay|your delivery has been)\b", re.I), "delivery"),
    (re.compile(r"\b(how you were treated|the service you received)\b", re.I), "service"),
]
_LABELLED = {"order_number": r"\b(order|number)\s$", "ticket_id": r"\b(ticket|number)\s$"}
_WRITTEN_FACT = re.compile(r"\d|\$")


class SafetyGate:
    def __init__(self, min_confidence: float = DEFAULT_MIN_CONFIDENCE, max_words: int = MAX_WORDS) -> None:
        self.min_confidence = min_confidence
        self.max_words = max_words

    def check(self, act: DialogueAct, text: str, confidence: float, finished: bool = True,
              category: str | None = None) -> str | None:
        """None when the reply may be spoken, else the reason it may not. `category`: the turn's complaint
        category (slots), if any."""
        words = text.split()
        if not words or not finished or len(words) > self.max_words:
            return "length"
        if "<unk>" in text:
            return "unknown_word"
        if self._placeholder_problem(act, text):
            return "placeholder"
        if self._off_topic(act, text) or self._unreported_problem(text, category):
            return "intent"
        if confidence < self.min_confidence:
            return "confidence"
        return None

    @staticmethod
    def _placeholder_problem(act: DialogueAct, text: str) -> bool:
        used = placeholders(text)
        required = set(ACTS.get(act.name, ((), ()))[0])
        if not used <= set(act.values) or not required <= used:
            return True
        for name, label in _LABELLED.items():
            for m in re.finditer(rf"\[{name}\]", text):
                if not re.search(label, text[: m.start()], re.I):
                    return True
        # A fact must come from a placeholder: digits or a price written by the model were invented.
        return bool(_WRITTEN_FACT.search(re.sub(r"\[[a-z_]+\]", " ", text)))

    @staticmethod
    def _unreported_problem(text: str, category: str | None) -> bool:
        return any(pattern.search(text) and category != needs for pattern, needs in _PROBLEM_WORDS)

    @staticmethod
    def _off_topic(act: DialogueAct, text: str) -> bool:
        if act.name == "repeat":  # [last_reply] carries the previous turn's words; they were checked then
            return False
        for _, pattern, allowed in _TOPICS:
            if act.name not in allowed and pattern.search(text):
                return True
        must = _MUST_SAY.get(act.name)
        return bool(must and not must.search(text))
