"""Policy moves that answer from the CRM: order status and the catalog (price, stock, how to buy)."""

from __future__ import annotations

import re

from dialogue.acts import DialogueAct
from dialogue.moves import Moves
from dialogue.spoken import money, spoken_list
from dialogue.state import Decision, DialogState

_DESCRIBE_RE = re.compile(r"\b(tell me (more )?about|describe|details|specs|features|what is it|what does it "
                          r"do|what kind|more about|what's it like|what is the)\b")
_PRONOUN_RE = re.compile(r"\b(it|that|this|them|those|they|one|ones)\b")
_PRICE_RE = re.compile(r"\b(how much|price|cost|costs|stock|available|sell for)\b")
# Words of a generic product question; anything else in it ("do you sell tvs") names a product we lack.
_PRODUCT_QUESTION_WORDS = frozenset(
    "what what's whats do does you have sell products product items item things thing stuff kind "
    "kinds sort of carry offer your the is are how much price prices pricing in stock it that this "
    "one ones available tell me about can could please any a an i to know want like would there some "
    "more info information question on for with we they them get buy order purchase catalog catalogue "
    "sale currently right now and so hi hello yes yeah cost costs got you've guys at moment types "
    "type list range else anything cheapest be".split()
)


class Answers(Moves):
    def _order_status(self, state: DialogState, slots: dict[str, str]) -> Decision:
        intent = "order_status"
        number = self._order_number_from_context(state, slots)  # "and when will it arrive?" → last order
        if number is None:
            values = {}
            open_orders = self.orders.open_numbers(self.customer)
            if open_orders:
                # "order 4567, order 1024 and order 23456": "order" before each keeps them read digit by digit
                values["order_list"] = spoken_list([f"order {n}" for n in open_orders])
            act = DialogueAct("ask_order_number", intent, values)
            return Decision([act], intent, slots, "order_number", intent)
        order = self.store.order(number)
        if order is None:
            return self._not_found(number, intent, slots)
        state.last_order = order
        state.informed = True
        acts = [self.orders.act(order, intent), DialogueAct("offer_more", intent)]
        return Decision(acts, intent, slots, "anything_else")

    def _product(self, state: DialogState, text: str, slots: dict[str, str], intent: str) -> Decision:
        name = slots.get("product")
        low = text.lower()
        follow_up = _PRONOUN_RE.search(low) or (_PRICE_RE.search(low) and not _names_other_thing(low))
        if name is None and follow_up:
            name = state.last_product  # "is it in stock?" / "and the price?"; not "do you sell tvs?"
        product = self.store.product(name) if name else None
        if product is None:
            act_name = "product_unknown" if _names_other_thing(text) else "ask_product"
            act = DialogueAct(act_name, intent, {"product_list": self._product_list()})
            return Decision([act], intent, slots, "product", intent)
        state.last_product = product.name
        state.informed = True
        values = {"product_name": product.name, "product_price": money(product.price),
                  "stock": str(product.stock)}
        if product.description and _DESCRIBE_RE.search(text.lower()):
            values["description"] = product.description
        kind = "purchase" if intent == "purchase_intent" else "product"
        stock = "in_stock" if product.in_stock else "out_of_stock"
        acts = [DialogueAct(f"{kind}_{stock}", intent, values), DialogueAct("offer_more", intent)]
        return Decision(acts, intent, slots, "anything_else")


def _names_other_thing(text: str) -> bool:
    words = re.findall(r"[a-z']+", text.lower())
    return any(len(w) >= 3 and w not in _PRODUCT_QUESTION_WORDS for w in words)
