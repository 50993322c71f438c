"""Slot extraction from one (ASR) utterance: order number, product, complaint category, contact field.

Values are canonical: `order_number` a digit string, `product` a catalog name exactly as the store spells
it, `complaint_category` one of COMPLAINT_CATEGORIES, `contact_field` one of CONTACT_FIELDS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import SequenceMatcher

from dialogue.numbers import FILLERS, number_runs, tokens

COMPLAINT_CATEGORIES = ("delivery", "damaged", "billing", "quality", "service", "other")
CONTACT_FIELDS = ("email", "phone", "address")

# --- order numbers -------------------------------------------------------------------------------------

_STRONG_CUES = {"number", "#", "num"}  # "number 12" is an order number even when short
_ORDER_CUES = {"order", "no", "is", "reference"}
_NOT_ORDER_AFTER = frozenset(
    "dollars dollar bucks cents percent % days day weeks week times minutes hours items pounds euros "
    "am pm st nd rd th".split()
)
MIN_ORDER_DIGITS = 3
MAX_ORDER_DIGITS = 8  # longer runs are phone or card numbers, never an order


def order_number(text: str) -> str | None:
    """The order number the caller said, or None. Prices, quantities and phone numbers are skipped."""
    best: str | None = None
    for run in number_runs(text):
        if run.before == "$" or run.after in _NOT_ORDER_AFTER or len(run.digits) > MAX_ORDER_DIGITS:
            continue
        if run.before in _STRONG_CUES or (run.before in _ORDER_CUES and len(run.digits) >= MIN_ORDER_DIGITS):
            return run.digits
        if best is None and len(run.digits) >= MIN_ORDER_DIGITS:
            best = run.digits
    return best


# Words a caller wraps around a number when answering "what's the order number?".
_ANSWER_WORDS = frozenset(
    "it's its it is the number order my yeah yes yep sure ok okay so that's thats hash pound um uh "
    "and please right i think oh let me see just a sec second here got have sorry meant mean actually "
    "wait oops try again no nope".split()
)


def digits_only_answer(text: str) -> str | None:
    """The digits when the whole utterance is a number answer ("uh it's four five six seven"), else None."""
    runs = number_runs(text)
    if not runs:
        return None
    toks = tokens(text)
    covered = set()
    for run in runs:
        covered.update(range(run.start, run.end))
    rest = [t for i, t in enumerate(toks) if i not in covered and t not in _ANSWER_WORDS and t not in FILLERS]
    if rest:
        return None
    digits = "".join(run.digits for run in runs)
    return digits if len(digits) <= MAX_ORDER_DIGITS else None


# --- products ------------------------------------------------------------------------------------------

# Words people use for our catalog's head nouns; kept small and generic on purpose.
_SYNONYMS = {
    "sneaker": "shoe", "trainer": "shoe", "earbud": "headphone", "earphone": "headphone", "headset":
    "headphone", "rucksack": "backpack", "smartwatch": "smartwatch",
}
# After a modifier alone ("coffee", "bluetooth"), these still point at a product: "the coffee machine".
_GENERIC_NOUNS = {"machine", "thing", "one", "ones", "device", "gadget", "thingy", "model", "set"}
_STOPWORDS = frozenset(
    "the a an my your some any this that these those of for to and or is are it i you do does have "
    "how much what".split()
)
_FUZZY_RATIO = 0.8
_FUZZY_MIN_LEN = 5


def singular(word: str) -> str:
    if len(word) <= 3 or word.endswith("ss"):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("us"):
        return word[:-1]
    return word


def _similar(a: str, b: str) -> bool:
    if a == b:
        return True
    if min(len(a), len(b)) < _FUZZY_MIN_LEN:
        return False
    return SequenceMatcher(None, a, b).ratio() >= _FUZZY_RATIO


class ProductMatcher:
    """Matches what a caller said against the live catalog names: plurals, partial names, light typos."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)
        self._products = [(name, [singular(w) for w in tokens(name)]) for name in self.names]

    def match(self, text: str) -> str | None:
        words = [_SYNONYMS.get(singular(t), singular(t)) for t in tokens(text)]
        best: tuple[float, int, str] | None = None
        for name, parts in self._products:
            found = self._score(words, parts)
            if found is None:
                continue
            score, position = found
            if best is None or score > best[0] or (score == best[0] and position < best[1]):
                best = (score, position, name)
        return best[2] if best else None

    @staticmethod
    def _score(words: list[str], parts: list[str]) -> tuple[float, int] | None:
        """(score, first position) of one product in the utterance; None when it is not mentioned."""
        # Each word, and each pair of adjacent words joined ("head phones" → "headphone").
        cands = sorted(
            [(i, w) for i, w in enumerate(words)]
            + [
                (i, singular(words[i] + words[i + 1]))
                for i in range(len(words) - 1)
                if words[i] not in _STOPWORDS and words[i + 1] not in _STOPWORDS
            ]
        )
        if len(parts) > 1:
            joined = "".join(parts)  # "smartwatch" said as one word
            for i, c in cands:
                if _similar(c, joined):
                    return 3.0, i
        score = 0.0
        position = len(words)
        head_hit = modifier_ok = False
        for k, part in enumerate(parts):
            for i, c in cands:
                if c in _STOPWORDS or not _similar(c, part):
                    continue
                exact = c == part
                if k == len(parts) - 1:
                    head_hit = True
                    score += 2.0 if exact else 1.8
                else:
                    nxt = words[i + 1] if i + 1 < len(words) else None
                    # A modifier alone counts only as "the coffee machine" / "the bluetooth one" / at the end,
                    # so "my order is running late" is not the running shoes.
                    if nxt is None or nxt in _GENERIC_NOUNS or nxt in parts[k + 1 :]:
                        modifier_ok = True
                    score += 1.0 if exact else 0.9
                position = min(position, i)
                break
        if head_hit or modifier_ok:
            return score, position
        return None


# --- complaint categories ------------------------------------------------------------------------------

# (pattern, weight); strong cues weigh 2, words that merely suggest the area weigh 1.
_CATEGORY_CUES: dict[str, list[tuple[str, float]]] = {
    "damaged": [
        (
            r"\b(broken|damaged|cracked|smashed|crushed|dented|shattered|scratched|torn|ripped|bent|"
            r"leaking|in pieces|dent|scratches|cracks?)\b",
            2.0,
        )
    ],
    "delivery": [
        (
            r"\b(never|not|still|hasn't|haven't|has not|didn't|did not|hasnt|didnt|havent) "
            r"(yet )?(arrived|arrive|came|come|shown up|showed up|received|got here|been delivered|"
            r"delivered|here)\b",
            2.0,
        ),
        (
            r"\b(late|delayed|delay|lost|missing|wrong address|left outside|still waiting|"
            r"where is it|wrong (item|product|colou?r|size|thing|order|one))\b",
            2.0,
        ),
        (r"\b(delivery|package|parcel|courier|driver|shipping|tracking|shipment)\b", 1.0),
    ],
    "billing": [
        (
            r"\b(charged|overcharged|double charged|billed|bill|billing|invoice|payment|credit card|"
            r"debit card|card|charge|charges|paid twice|twice)\b",
            2.0,
        ),
        (r"\b(refund|money|price|paid)\b", 1.0),
    ],
    "quality": [
        (
            r"\b(stopped working|doesn't work|does not work|don't work|not working|won't turn on|"
            r"wont turn on|won't work|defective|faulty|poor quality|bad quality|cheap|cheaply|"
            r"fell apart|falls apart|falling apart|malfunction\w*|broke|keeps? (turning|shutting|"
            r"switching) off|overheats?|noisy|rattles?|flimsy|quit working|dead)\b",
            2.0,
        )
    ],
    "service": [
        (
            r"\b(rude|unhelpful|impolite|hung up on me|nobody called|no one called|never called|"
            r"didn't call|call me back|on hold|customer service|your staff|your agent|representative|"
            r"ignored|no response|no answer|not answered)\b",
            2.0,
        ),
        (r"\b(agent|staff|service|support|waited|waiting)\b", 1.0),
    ],
}
_CATEGORY_ORDER = ("damaged", "delivery", "billing", "quality", "service")
_CATEGORY_RES = {cat: [(re.compile(p), w) for p, w in cues] for cat, cues in _CATEGORY_CUES.items()}


def complaint_category(text: str) -> str | None:
    """The complaint area the caller described, or None when the utterance names none."""
    low = text.lower()
    scores = {cat: sum(w * len(rx.findall(low)) for rx, w in _CATEGORY_RES[cat]) for cat in _CATEGORY_ORDER}
    best = max(_CATEGORY_ORDER, key=lambda c: scores[c])  # ties keep the earlier (more specific) category
    return best if scores[best] > 0 else None


# --- contact fields ------------------------------------------------------------------------------------

_CONTACT_RES = (
    ("email", re.compile(r"\b(e-?mail|email address|mail address|e mail)\b")),
    (
        "phone",
        re.compile(
            r"\b(phone|mobile|cell|telephone|landline)\b"
            r"|(?<!order )(?<!ticket )(?<!reference )(?<!tracking )\bnumber\b"
        ),
    ),
    ("address", re.compile(r"\b(address|moved|move house|street|postcode|zip code|zip|postal)\b")),
)


def contact_field(text: str) -> str | None:
    """Which contact detail the caller means; the earliest mention wins ("email address" is email)."""
    low = text.lower()
    hits = []
    for field, rx in _CONTACT_RES:
        m = rx.search(low)
        if m:
            hits.append((m.start(), field))
    if not hits:
        return None
    email = [h for h in hits if h[1] == "email"]
    return email[0][1] if email else min(hits)[1]


def extract(text: str, products: ProductMatcher | None = None) -> dict[str, str]:
    """All slots found in one utterance, canonical values only."""
    slots: dict[str, str] = {}
    number = order_number(text)
    if number:
        slots["order_number"] = number
    if products is not None:
        product = products.match(text)
        if product:
            slots["product"] = product
    category = complaint_category(text)
    if category:
        slots["complaint_category"] = category
    field = contact_field(text)
    if field:
        slots["contact_field"] = field
    return slots
