"""The safety gate: every reply of a generator other than the templates is checked before it is spoken (the
`DialogueManager` runs it); the first failed check names the fallback reason (`BotTurn.generator ==
"fallback:<reason>"`) and the template is said instead.

placeholder  a placeholder the manager cannot fill for this act, a required one missing, an order/ticket
             number without its label word, or a fact written out (digits, a price) instead of a placeholder
intent       a word none of the act's own replies in replies.txt uses (a promise the CRM does not back: "as
             a priority", "today", "a full refund", a carrier's name); content that belongs to another act:
             an order status in a complaint turn, "has shipped" for a cancelled order, an arrival promised
             without an expected delivery day, stock talk outside the catalog, a ticket or a transfer that was
             not made, a goodbye that does not end the call; an act's key message missing (an out-of-stock
             answer that never says "out of stock"); or sympathy for a problem the caller did not report
             ("sorry it arrived damaged" when the turn's complaint category is not "damaged")
length       empty, cut by the length cap, or longer than MAX_WORDS
unknown_word the model wrote its unknown-word token
confidence   the generator's confidence below the threshold (a generator that gives none skips this check)
"""

from __future__ import annotations

import functools
import re

from dialogue.acts import ACTS, DialogueAct, placeholders
from dialogue.seq2seq.corpus import read_replies
from dialogue.seq2seq.features import reply_tokens

MAX_WORDS = 60
DEFAULT_MIN_CONFIDENCE = 0.6

_STATUS_ACTS = {f"order_{s}" for s in ("pending", "processing", "shipped", "out_for_delivery", "delivered",
                                       "cancelled", "returned", "late")}
_ORDER_ACTS = _STATUS_ACTS | {"outbound_order"}
_TICKET_ACTS = {"ticket_opened", "return_opened", "callback_opened", "contact_update_opened", "outbound_ticket",
                "outbound_ticket_closed"}
# Claims by topic: (pattern, the acts allowed to make it). A status said in words belongs to that status only.
_TOPICS: list[tuple[str, re.Pattern[str], set[str]]] = [
    ("order facts", re.compile(r"\[(order_status|expected_delivery|shipped_on|delivered_on|tracking|carrier)\]"),
     _ORDER_ACTS),
    ("shipped", re.compile(r"\b(has shipped|went out)\b", re.I), {"order_shipped"}),
    ("out for delivery", re.compile(r"\bout for delivery\b", re.I), {"order_out_for_delivery"}),
    ("delivered", re.compile(r"\b(was delivered|already arrived)\b", re.I), {"order_delivered"}),
    ("cancelled", re.compile(r"\b(was cancelled|won't be shipped|won't arrive)\b", re.I), {"order_cancelled"}),
    ("returned", re.compile(r"\b(was returned|returned to us)\b", re.I), {"order_returned"}),
    ("processing", re.compile(r"\bin our warehouse\b", re.I), {"order_processing"}),
    ("not processed", re.compile(r"\bhasn't been processed\b", re.I), {"order_pending"}),
    ("late", re.compile(r"\b(running late|was due)\b", re.I), {"order_late"}),
    ("stock", re.compile(r"\[stock\]|\b(in stock|out of stock|sold out|back in stock)\b", re.I),
     {"product_in_stock", "product_out_of_stock", "purchase_in_stock", "purchase_out_of_stock"}),
    ("ticket", re.compile(r"\[ticket_id\]|\bticket\b|\breference\b|\bi've (opened|logged)\b", re.I),
     _TICKET_ACTS),
    ("transfer", re.compile(r"\b(transferring|connecting you|please hold)\b", re.I), {"transfer"}),
    ("return started", re.compile(r"\b(started a return|return label)\b", re.I),
     {"return_opened", "return_policy"}),
    ("goodbye", re.compile(r"\b(goodbye|bye)\b", re.I), {"goodbye", "goodbye_no_input"}),
]
# An arrival is promised only with the day the CRM expects it.
_ARRIVAL = re.compile(r"\b(should (arrive|reach you)|arrive by|reach you by|due by)\b", re.I)
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
    "order_late": re.compile(r"\blate\b|\bhasn't reached you\b", re.I),
    "return_not_possible": re.compile(r"\bcan't\b", re.I),
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
_SEGMENT_MARKS = re.compile(r"\{-[a-z_]+:|[{}]")


@functools.cache
def act_vocabulary() -> dict[str, frozenset[str]]:
    """act → every token (lowercased) its replies in replies.txt use, optional segments included: a
    generated reply may reword within that vocabulary, never add a word (a claim) of its own."""
    return {act: frozenset(t.lower() for pattern in styles.values()
                           for t in reply_tokens(_SEGMENT_MARKS.sub(" ", pattern)))
            for act, styles in read_replies().items()}


class SafetyGate:
    def __init__(self, min_confidence: float = DEFAULT_MIN_CONFIDENCE, max_words: int = MAX_WORDS,
                 vocabulary: dict[str, frozenset[str]] | None = None) -> None:
        self.min_confidence = min_confidence
        self.max_words = max_words
        self.vocabulary = vocabulary if vocabulary is not None else act_vocabulary()

    def check(self, act: DialogueAct, text: str, confidence: float | None, finished: bool = True,
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
        if (self._new_words(act, text) or self._off_topic(act, text)
                or self._unreported_problem(text, category)):
            return "intent"
        if confidence is not None and confidence < self.min_confidence:
            return "confidence"
        return None

    def _new_words(self, act: DialogueAct, text: str) -> bool:
        if act.name == "repeat":  # [last_reply] carries the previous turn's words; they were checked then
            return False
        allowed = self.vocabulary.get(act.name, frozenset())
        return any(t.lower() not in allowed for t in reply_tokens(text))

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
        if act.name == "repeat":
            return False
        for _, pattern, allowed in _TOPICS:
            if act.name not in allowed and pattern.search(text):
                return True
        if _ARRIVAL.search(text) and "expected_delivery" not in act.values:
            return True
        must = _MUST_SAY.get(act.name)
        return bool(must and not must.search(text))
