"""Situations → dialogue turns, the way the policy would answer them (dialogue/policy.py and its moves).

A caller line of situation `order_when` becomes, say, acts `order_shipped + offer_more` with the values the
CRM would give, a previous bot turn and a reply style per act ("when" for the order act). The
corpus (corpus.py) pairs each act with its reply from replies.txt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from dialogue.slots import complaint_category

ORDER_STATUSES = ("pending", "processing", "shipped", "out_for_delivery", "delivered", "cancelled", "returned")
_ORDER_OPTIONAL = {
    "pending": ("expected_delivery",),
    "processing": ("expected_delivery",),
    "shipped": ("shipped_on", "expected_delivery", "carrier", "tracking"),
    "out_for_delivery": ("shipped_on", "expected_delivery", "carrier", "tracking"),
    "delivered": ("shipped_on", "delivered_on", "carrier", "tracking"),
    "cancelled": (),
    "returned": ("shipped_on", "delivered_on", "carrier", "tracking"),
    "late": ("shipped_on", "carrier", "tracking"),  # still on its way after the expected day
}
_FIXED_KEYS = {
    "product_unknown": ("product_list",), "ask_product": ("product_list",), "return_policy": ("return_days",),
    "return_opened": ("ticket_id", "team", "order_number", "return_days"),
    "callback_opened": ("ticket_id", "team"), "contact_update_opened": ("ticket_id", "team", "contact_field"),
    "outbound_ticket": ("company", "ticket_id"), "outbound_ticket_closed": ("company", "ticket_id"),
    "outbound_order": ("company", "order_number"), "repeat": ("last_reply",), "return_not_possible": ("return_days",),
}
_NAMED = {"greet", "goodbye", "outbound_order", "outbound_ticket", "outbound_ticket_closed", "outbound_callback",
          "greet_back", "ask_how_help"}
LATE_SHARE = 0.12  # of order answers: an open order past its expected day (order_late)
# Turns a new request may follow: (previous acts). The caller starts something new after any of them.
_FRESH_PREVIOUS = [(), ("greet",), ("greet",), ("greet_back",), ("ask_how_help",), ("youre_welcome", "offer_more"),
                   ("order_shipped", "offer_more"), ("ticket_opened", "offer_more"), ("ask_what_else",),
                   ("outbound_callback",)]
_REASKS = ("ask_how_help", "ask_order_number_again", "ask_complaint_details_again", "offer_more",
           "offer_agent_again", "ask_callback", "ask_product", "ask_contact_field")


@dataclass
class Turn:
    intent: str
    acts: list[tuple[str, tuple[str, ...]]]  # (act name, value keys)
    previous: tuple[str, ...] = ()
    styles: dict[str, str] = field(default_factory=dict)  # act → reply style; missing = "plain"
    category: str | None = None


def keys_for(act: str, rng: random.Random, *, describe: bool = False) -> tuple[str, ...]:
    """The value keys the policy would give `act` (optional ones present as the CRM usually has them)."""
    if act.startswith("order_") and act[6:] in _ORDER_OPTIONAL:
        status = act[6:]
        keep = 0.2 if status == "pending" else 0.85
        required = ("order_number", "order_status") + (("expected_delivery",) if status == "late" else ())
        return required + tuple(k for k in _ORDER_OPTIONAL[status] if rng.random() < keep)
    if act == "order_not_found":
        return ("order_number",)
    if act == "ask_order_number":
        return ("order_list",) if rng.random() < 0.5 else ()
    if act.startswith(("product_in", "product_out", "purchase_")):
        keys = ("product_name", "product_price", "stock")
        return keys + ("description",) if describe and act.startswith("product_") else keys
    if act == "ticket_opened":
        return ("ticket_id", "team") + (("order_number",) if rng.random() < 0.6 else ())
    if act in _NAMED:
        base = _FIXED_KEYS.get(act, ()) + ("company",)  # Moves.names(): the company, the caller's name if known
        return tuple(dict.fromkeys(base + (("customer_name",) if rng.random() < 0.5 else ())))
    return _FIXED_KEYS.get(act, ())


def order_act(rng: random.Random) -> str:
    """The act answering for an order: its status's, or order_late."""
    return "order_late" if rng.random() < LATE_SHARE else f"order_{rng.choice(ORDER_STATUSES)}"


def turns_for(situation: str, line: str, rng: random.Random) -> list[Turn]:
    """One or two plausible turns for a caller line of `situation` (outcomes vary with the CRM)."""
    family, _, style = situation.partition("_")
    upset = style.endswith("upset")
    builder = _BUILDERS.get(family)
    if builder is None:
        raise ValueError(f"callers corpus: unknown situation [{situation}]")
    turn = builder(style, line, rng)
    if not turn.previous and rng.random() < 0.9:
        # After an order answer, an order question without a number is a follow-up, not a new request.
        options = [p for p in _FRESH_PREVIOUS if family != "order" or "order_shipped" not in p]
        turn.previous = rng.choice(options)
    if upset and rng.random() < 0.25 and turn.acts[-1][0] == "offer_more":
        # The second angry turn in a row: the conversation offers a person instead of "anything else?"
        turn.acts[-1] = (rng.choice(["offer_agent_upset", "offer_callback_upset"]), ())
    return [turn]


def _offer_more(turn: Turn, upset: bool) -> Turn:
    turn.acts.append(("offer_more", ()))
    if upset:
        turn.styles["offer_more"] = "upset"
    return turn


def _order(style: str, line: str, rng: random.Random) -> Turn:
    upset = style == "upset"
    if style == "followup":
        act = order_act(rng)
        turn = Turn("order_status", [(act, keys_for(act, rng))], (act, "offer_more"), {act: "followup"})
        return _offer_more(turn, False)
    previous: tuple[str, ...] = ()
    if style == "answer":
        previous = rng.choice([("ask_order_number",), ("ask_order_number",), ("order_not_found",),
                               ("ask_order_number_again",), ("still_there", "ask_order_number_again"),
                               ("return_policy",), ("ask_complaint_details",)])
        if previous == ("return_policy",):
            if rng.random() < 0.3:
                return _return_refused(previous, rng, False)
            turn = Turn("return_request", [("return_opened", keys_for("return_opened", rng))], previous)
            return _offer_more(turn, False)
    if "<num>" not in line:
        act = "ask_order_number"
        return Turn("order_status", [(act, keys_for(act, rng))], previous, {act: style})
    if rng.random() < 0.15:
        retry = style == "answer" and previous == ("order_not_found",)
        not_found_style = "upset" if upset else "answer" if retry else "plain"
        return Turn("order_status", [("order_not_found", ("order_number",))], previous,
                    {"order_not_found": not_found_style})
    act = order_act(rng)
    return _offer_more(Turn("order_status", [(act, keys_for(act, rng))], previous, {act: style}), upset)


def _product(style: str, line: str, rng: random.Random) -> Turn:
    from dialogue.answers import _DESCRIBE_RE  # the policy's own cue for adding the description

    if style == "unknown":
        return Turn("product_info", [("product_unknown", ("product_list",))])
    if style == "vague":
        return Turn("product_info", [("ask_product", ("product_list",))])
    act = rng.choice(["product_in_stock"] * 3 + ["product_out_of_stock"] * 2)
    keys = keys_for(act, rng, describe=bool(_DESCRIBE_RE.search(line.lower())))
    previous: tuple[str, ...] = ()
    if style == "followup":
        previous = (rng.choice(["product_in_stock", "product_out_of_stock"]), "offer_more")
    return _offer_more(Turn("product_info", [(act, keys)], previous, {act: style}), False)


def _purchase(style: str, line: str, rng: random.Random) -> Turn:
    if style == "vague":
        return Turn("purchase_intent", [("ask_product", ("product_list",))], styles={"ask_product": "purchase"})
    stock = rng.choice(["in_stock"] * 3 + ["out_of_stock"])
    act = f"purchase_{stock}"
    previous = (f"product_{stock}", "offer_more") if style == "followup" else ()
    turn = Turn("purchase_intent", [(act, keys_for(act, rng))], previous, {act: style})
    return _offer_more(turn, False)


def _complaint(style: str, line: str, rng: random.Random) -> Turn:
    upset = style.endswith("upset")
    answering = style not in {"vague", "vague_upset"} and rng.random() < 0.35
    category = complaint_category(line)
    if category is None and not answering:
        return Turn("complaint", [("ask_complaint_details", ())], styles={"ask_complaint_details":
                                                                              "upset" if upset else "plain"})
    category = category or "other"
    previous = ("ask_complaint_details",) if answering else ()
    turn = Turn("complaint", [("ticket_opened", keys_for("ticket_opened", rng))], previous,
                {"ticket_opened": category + ("_upset" if upset else "")}, category=category)
    return _offer_more(turn, upset)


def _return(style: str, line: str, rng: random.Random) -> Turn:
    if style.startswith("policy"):
        kind = style.partition("_")[2] or "plain"
        return Turn("return_request", [("return_policy", ("return_days",))], styles={"return_policy": kind})
    if rng.random() < 0.3:
        return _return_refused((), rng, style == "upset")
    turn = Turn("return_request", [("return_opened", _FIXED_KEYS["return_opened"])],
                styles={"return_opened": style if style != "order" else "plain"})
    return _offer_more(turn, style == "upset")


def _return_refused(previous: tuple[str, ...], rng: random.Random, upset: bool) -> Turn:
    """A return asked for an order that cannot be returned: its status, then why no return was started."""
    act = f"order_{rng.choice(ORDER_STATUSES + ('late',))}"  # delivered: longer ago than the return window
    turn = Turn("return_request", [(act, keys_for(act, rng)), ("return_not_possible", ("return_days",))], previous,
                {"return_not_possible": "upset" if upset else "plain"})
    return _offer_more(turn, upset)


def _agent(style: str, line: str, rng: random.Random) -> Turn:
    act = rng.choice(["transfer", "no_agent_offer_callback"])
    return Turn("agent_request", [(act, ())], styles={act: style})


def _callback(style: str, line: str, rng: random.Random) -> Turn:
    turn = Turn("affirm", [("callback_opened", _FIXED_KEYS["callback_opened"])], ("no_agent_offer_callback",))
    return _offer_more(turn, False)


def _contact(style: str, line: str, rng: random.Random) -> Turn:
    if style == "vague":
        return Turn("update_contact", [("ask_contact_field", ())])
    previous = ("ask_contact_field",) if rng.random() < 0.3 else ()
    turn = Turn("update_contact", [("contact_update_opened", _FIXED_KEYS["contact_update_opened"])], previous,
                {"contact_update_opened": "moved" if style == "moved" else "plain"})
    return _offer_more(turn, False)


def _greeting(style: str, line: str, rng: random.Random) -> Turn:
    return Turn("greeting", [("greet_back", keys_for("greet_back", rng))], styles={"greet_back": style or "plain"})


def _thanks(style: str, line: str, rng: random.Random) -> Turn:
    turn = Turn("thanks", [("youre_welcome", ())], styles={"youre_welcome": style or "plain"})
    return _offer_more(turn, False)


def _affirm(style: str, line: str, rng: random.Random) -> Turn:
    if rng.random() < 0.6:
        return Turn("affirm", [("ask_what_else", ())], (rng.choice(["ticket_opened", "order_shipped"]),
                                                        "offer_more"))
    return Turn("affirm", [("ask_how_help", keys_for("ask_how_help", rng))], ("greet",))


def _deny(style: str, line: str, rng: random.Random) -> Turn:
    r = rng.random()
    if r < 0.6:
        previous = (rng.choice(["order_shipped", "youre_welcome", "ticket_opened"]), "offer_more")
        return Turn("deny", [("goodbye", keys_for("goodbye", rng))], previous)
    if r < 0.8:
        return Turn("deny", [("offer_more", ())], ("order_not_found",), {"offer_more": "after_no"})
    previous = (rng.choice(["no_agent_offer_callback", "offer_agent", "system_error"]),)
    return Turn("deny", [("ask_how_help", keys_for("ask_how_help", rng))], previous, {"ask_how_help": "after_no"})


def _goodbye(style: str, line: str, rng: random.Random) -> Turn:
    previous = rng.choice([(), ("youre_welcome", "offer_more"), ("order_shipped", "offer_more")])
    if style == "upset":
        previous = rng.choice([("ticket_opened", "offer_more"), ("order_not_found",), ("capabilities",)])
    return Turn("goodbye", [("goodbye", keys_for("goodbye", rng))], previous, {"goodbye": style or "plain"})


def _out(style: str, line: str, rng: random.Random) -> Turn:
    upset = style.endswith("upset")
    return Turn("out_of_scope", [("capabilities", ())], styles={"capabilities": "upset" if upset else "plain"})


def _repeat(style: str, line: str, rng: random.Random) -> Turn:
    if rng.random() < 0.2:
        return Turn("repeat", [("nothing_to_repeat", ())], ("greet",))
    return Turn("repeat", [("repeat", ("last_reply",))], (rng.choice(["order_shipped", "return_policy"]),))


def _unclear(style: str, line: str, rng: random.Random) -> Turn:
    if rng.random() < 0.3:
        return Turn("out_of_scope", [("offer_agent", ())], ("rephrase", "ask_how_help"))
    reask = rng.choice(["ask_how_help", "ask_order_number_again", "ask_product"])
    return Turn("out_of_scope", [("rephrase", ()), (reask, keys_for(reask, rng))])


_BUILDERS = {
    "order": _order, "product": _product, "purchase": _purchase, "complaint": _complaint, "return": _return,
    "agent": _agent, "callback": _callback, "contact": _contact, "greeting": _greeting, "thanks": _thanks,
    "affirm": _affirm, "deny": _deny, "goodbye": _goodbye, "out": _out, "repeat": _repeat, "unclear": _unclear,
}


def bot_turns(rng: random.Random) -> list[Turn]:
    """Turns the bot starts without caller words: greetings, outbound calls, silence, keypad, errors."""
    turns = [Turn("bot_greeting", [("greet", keys_for("greet", rng))])]
    act = order_act(rng)
    turns.append(Turn("bot_greeting", [("outbound_order", keys_for("outbound_order", rng)),
                                       (act, keys_for(act, rng)), ("ask_questions", ())]))
    turns.append(Turn("bot_greeting", [("outbound_ticket", keys_for("outbound_ticket", rng))]))
    turns.append(Turn("bot_greeting", [("outbound_ticket_closed", keys_for("outbound_ticket_closed", rng))]))
    turns.append(Turn("bot_greeting", [("outbound_callback", keys_for("outbound_callback", rng))]))
    previous = rng.choice([("greet",), ("ask_order_number",), ("offer_more",)])
    for reask in _REASKS:  # every re-ask after "are you still there?" / "sorry, I didn't catch that"
        turns.append(Turn("no_input", [("still_there", ()), (reask, keys_for(reask, rng))], previous))
        turns.append(Turn("out_of_scope", [("not_understood", ()), (reask, keys_for(reask, rng))], previous))
    turns.append(Turn("no_input", [("goodbye_no_input", ())], ("still_there", "ask_how_help")))
    turns.append(Turn("order_status", [("dtmf_empty", ())], ("ask_order_number",)))
    turns.append(Turn(rng.choice(["order_status", "complaint"]), [("system_error", ())]))
    return turns
