"""The dialogue manager end to end against a real SQLite CRM loaded with the demo data."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from crm_store import CrmStore
from crm_store.demo import ALICE_PHONE as ALICE
from dialogue import DialogueAct, DialogueManager, GeneratedReply, ReplyContext, TemplateGenerator, fill
from dialogue.acts import ACTS, placeholders
from dialogue.templates import TEMPLATES

BOB = "+15551230002"


def test_order_status_by_number(manager: DialogueManager) -> None:
    conv = manager.start(ALICE)
    turn = conv.respond("where is my order 4567")
    assert "shipped" in turn.text.lower() and "4567" in turn.text
    assert turn.intent == "order_status" and turn.slots == {"order_number": "4567"}
    assert not turn.end_call


def test_order_status_reads_the_crm_for_every_status(manager: DialogueManager, store: CrmStore) -> None:
    conv = manager.start(None)
    for number, words in [("101", "pending"), ("2048", "processing"), ("3141", "out for delivery"),
                          ("5150", "delivered"), ("6060", "cancelled"), ("78901", "returned")]:
        text = conv.respond(f"what's the status of order {number}").text.lower()
        assert words in text and number in text
    order = store.order("3141")
    assert order.carrier in conv.respond("order 3141").text


def test_missing_number_is_asked_then_taken_from_spoken_digits(manager: DialogueManager) -> None:
    conv = manager.start(None)
    ask = conv.respond("hi i want to check on my order")
    assert ask.expecting == "order_number" and "order number" in ask.text.lower()
    answer = conv.respond("four five six seven")
    assert "shipped" in answer.text.lower() and answer.intent == "order_status"
    assert answer.slots["order_number"] == "4567"


def test_digits_answer_wins_over_the_classifier(manager: DialogueManager) -> None:
    conv = manager.start(None)
    conv.respond("where's my package")
    assert "shipped" in conv.respond("yeah uh sorry it's forty five sixty seven").text.lower()
    # Unprompted too: the classifier hears "sorry" (repeat) / "no" (deny); the digits say order number.
    assert "returned" in conv.respond("uh sorry seven three two one").text.lower()
    assert "shipped" in conv.respond("no four five six seven").text.lower()


def test_follow_up_uses_the_last_order(manager: DialogueManager) -> None:
    conv = manager.start(ALICE)
    conv.respond("where is order 4567")
    follow = conv.respond("and when will it arrive")
    assert "4567" in follow.text and follow.intent == "order_status"


def test_unknown_order_is_not_found_and_can_be_retried(manager: DialogueManager) -> None:
    conv = manager.start(None)
    miss = conv.respond("where is order 9999")
    assert "order 9999" in miss.text and "shipped" not in miss.text.lower()
    assert miss.expecting == "order_number"
    again = conv.respond("yes")
    assert again.expecting == "order_number"
    assert "pending" in conv.respond("one oh two four").text.lower()


def test_known_caller_is_greeted_by_first_name(manager: DialogueManager) -> None:
    conv = manager.start("sip:+15551230001@10.0.0.1:5060")
    greeting = conv.greet()
    assert conv.customer is not None and "Alice" in greeting.text
    assert greeting.interruptible is False and greeting.index == 0


def test_unknown_caller_still_gets_help(manager: DialogueManager) -> None:
    conv = manager.start("+15559999999")
    greeting = conv.greet()
    assert conv.customer is None and "Alice" not in greeting.text and "Acme" in greeting.text
    assert "shipped" in conv.respond("order number 34567 please").text.lower()


def test_product_price_and_stock(manager: DialogueManager) -> None:
    conv = manager.start(None)
    watch = conv.respond("how much is the smart watch")
    assert "199" in watch.text and "out of stock" not in watch.text
    coffee = conv.respond("is the coffee machine in stock")
    assert "out of stock" in coffee.text and "49.50" in coffee.text
    follow = conv.respond("and how much is it")
    assert "coffee maker" in follow.text


def test_unknown_product_lists_what_we_have(manager: DialogueManager) -> None:
    text = manager.start(None).respond("do you sell televisions").text
    assert "headphones" in text or "backpack" in text


def test_purchase_gives_price_stock_and_how_to_order(manager: DialogueManager) -> None:
    text = manager.start(None).respond("i'd like to buy the bluetooth speaker").text.lower()
    assert "39.99" in text and "website" in text and "phone" in text


def test_complaint_opens_a_ticket_with_category_and_notification(manager: DialogueManager,
                                                                  store: CrmStore) -> None:
    conv = manager.start(ALICE)
    turn = conv.respond("my blender arrived broken")
    ticket = next(t for t in store.tickets() if t.interaction_id == conv.interaction_id)
    assert ticket.category == "damaged" and ticket.team == "returns"
    assert ticket.customer_id == conv.customer.id and ticket.order_number == "567"  # Alice's blender order
    assert ticket.number in turn.text and "ticket" in turn.text.lower()
    assert any(n.ticket_number == ticket.number and n.team == "returns" for n in store.notifications())


def test_complaint_without_details_asks_what_happened(manager: DialogueManager, store: CrmStore) -> None:
    conv = manager.start(None)
    ask = conv.respond("i want to make a complaint about order 2048")
    assert ask.expecting == "complaint_details"
    assert not [t for t in store.tickets() if t.interaction_id == conv.interaction_id]
    done = conv.respond("i was charged twice for it")
    ticket = next(t for t in store.tickets() if t.interaction_id == conv.interaction_id)
    assert ticket.category == "billing" and ticket.order_number == "2048" and ticket.number in done.text


def test_return_with_an_order_opens_a_ticket(manager: DialogueManager, store: CrmStore) -> None:
    conv = manager.start(None)
    policy = conv.respond("how do returns work")
    assert "30 days" in policy.text and policy.expecting == "order_number"
    opened = conv.respond("it's order five one five zero")
    ticket = next(t for t in store.tickets() if t.interaction_id == conv.interaction_id)
    assert ticket.order_number == "5150" and ticket.category == "other" and ticket.number in opened.text


@pytest.mark.parametrize("number, status", [("678", "cancelled"), ("789", "returned"), ("101", "pending"),
                                            ("4567", "shipped")])
def test_an_order_not_delivered_is_not_returned_and_gets_no_ticket(manager: DialogueManager, store: CrmStore,
                                                                  number: str, status: str) -> None:
    conv = manager.start(None)
    turn = conv.respond(f"i want to return order {number}")
    assert status in turn.text and number in turn.text and "can't start" in turn.text
    assert "started a return" not in turn.text and "label" not in turn.text
    assert not [t for t in store.tickets() if t.interaction_id == conv.interaction_id]
    assert turn.expecting == "anything_else"


def test_a_return_after_the_return_window_gets_no_ticket(manager: DialogueManager, store: CrmStore) -> None:
    delivered = store.order("5150").delivered_on
    conv = manager.start(None)
    conv.orders.today = lambda: delivered + dt.timedelta(days=31)  # a month after delivery
    turn = conv.respond("i want to return order 5150")
    assert "delivered" in turn.text and "30 days" in turn.text and "started a return" not in turn.text
    assert not [t for t in store.tickets() if t.interaction_id == conv.interaction_id]


def test_a_late_order_is_never_promised_for_a_day_gone_by(manager: DialogueManager, store: CrmStore) -> None:
    due = store.order("4567").expected_delivery  # shipped, due in a few days
    conv = manager.start(None)
    conv.orders.today = lambda: due + dt.timedelta(days=3)
    text = conv.respond("where is order 4567").text
    assert "late" in text and f"due by {due:%A}" in text and "should arrive" not in text


def test_delivery_today_or_tomorrow_is_said_so(manager: DialogueManager, store: CrmStore) -> None:
    due = store.order("456").expected_delivery  # out for delivery, due tomorrow
    conv = manager.start(None)
    assert "by tomorrow" in conv.respond("where is order 456").text
    conv.orders.today = lambda: due
    assert "by today" in conv.respond("where is order 456").text


def test_a_question_while_waiting_for_complaint_details_is_answered(manager: DialogueManager,
                                                                    store: CrmStore) -> None:
    conv = manager.start(None)
    conv.respond("i want to make a complaint")
    turn = conv.respond("actually where is my order 4567")
    assert "shipped" in turn.text and "4567" in turn.text
    assert not [t for t in store.tickets() if t.interaction_id == conv.interaction_id]


def test_an_order_number_given_for_a_complaint_is_kept_and_details_asked(manager: DialogueManager,
                                                                         store: CrmStore) -> None:
    conv = manager.start(None)
    conv.respond("i want to make a complaint")
    ask = conv.respond("it's order 2048")
    assert ask.expecting == "complaint_details" and "processing" not in ask.text
    done = conv.respond("i was charged twice")
    ticket = next(t for t in store.tickets() if t.interaction_id == conv.interaction_id)
    assert ticket.order_number == "2048" and ticket.category == "billing" and ticket.number in done.text


def test_agent_request_transfers(manager: DialogueManager) -> None:
    turn = manager.start(None).respond("can i talk to a real person")
    assert turn.transfer_to == "sip:agents@127.0.0.1" and turn.intent == "agent_request"


def test_without_a_transfer_target_a_callback_ticket_is_offered(store: CrmStore) -> None:
    conv = DialogueManager(store).start(ALICE)
    offer = conv.respond("i want to speak to a human")
    assert offer.transfer_to is None and offer.expecting == "confirm_callback"
    done = conv.respond("yes please")
    ticket = next(t for t in store.tickets() if t.interaction_id == conv.interaction_id)
    assert ticket.number in done.text and ticket.category == "service"


def test_update_contact_asks_which_field_then_opens_a_callback(manager: DialogueManager,
                                                               store: CrmStore) -> None:
    conv = manager.start(ALICE)
    assert conv.respond("i need to update my details").expecting == "contact_field"
    done = conv.respond("my email")
    ticket = next(t for t in store.tickets() if t.interaction_id == conv.interaction_id)
    assert ticket.number in done.text and "email" in done.text
    assert store.customer(conv.customer.id).email == "alice.johnson@example.com"  # never changed by voice


def test_goodbye_and_no_after_anything_else_end_the_call(manager: DialogueManager) -> None:
    assert manager.start(None).respond("ok bye").end_call
    conv = manager.start(None)
    assert conv.respond("thanks").expecting == "anything_else"
    assert conv.respond("nope").end_call


def test_no_input_twice_ends_the_call(manager: DialogueManager) -> None:
    conv = manager.start(None)
    conv.greet()
    first = conv.no_input()
    assert not first.end_call and "still there" in first.text.lower()
    assert conv.no_input().end_call
    conv.close()
    assert conv.outcome == "no_input"


def test_speech_between_silences_resets_the_count(manager: DialogueManager) -> None:
    conv = manager.start(None)
    conv.no_input()
    conv.respond("hello")
    assert not conv.no_input().end_call


def test_garbled_input_and_repeated_misunderstandings_offer_a_person(manager: DialogueManager) -> None:
    conv = manager.start(None)
    first = conv.respond("")
    assert "didn't catch" in first.text.lower()
    second = conv.respond("[BLANK_AUDIO]")
    assert second.expecting == "confirm_agent" and "person" in second.text.lower()
    assert conv.respond("yes").transfer_to == "sip:agents@127.0.0.1"


def test_out_of_scope_says_what_the_bot_can_do(manager: DialogueManager) -> None:
    text = manager.start(None).respond("can you book me a flight to paris").text.lower()
    assert "order" in text and "person" in text


def test_repeat_says_the_last_reply_again(manager: DialogueManager) -> None:
    conv = manager.start(None)
    status = conv.respond("where is order 4567")
    again = conv.respond("sorry what was that")
    assert status.text in again.text
    assert status.text in conv.respond("say that again").text  # not nested


def test_dtmf_order_number(manager: DialogueManager) -> None:
    conv = manager.start(None)
    assert [conv.keypress(k) for k in "4567"] == [None] * 4
    turn = conv.keypress("#")
    assert turn is not None and "shipped" in turn.text.lower() and turn.slots["order_number"] == "4567"


def test_dtmf_star_clears_and_zero_asks_for_an_agent(manager: DialogueManager) -> None:
    conv = manager.start(None)
    for key in "99*1024":
        assert conv.keypress(key) is None
    assert "1024" in conv.keypress("#").text
    assert conv.keypress("0").transfer_to == "sip:agents@127.0.0.1"


def test_outbound_order_follow_up(manager: DialogueManager) -> None:
    reason = {"kind": "order_followup", "order_number": "4567"}
    conv = manager.start(ALICE, direction="outbound", reason=reason)
    greeting = conv.greet()
    assert "Alice" in greeting.text and "4567" in greeting.text and "shipped" in greeting.text.lower()
    assert "4567" in conv.respond("when will it get here").text


@pytest.mark.parametrize("caller, reason, unsaid", [
    (ALICE, {"kind": "ticket_followup", "ticket_number": "99999"}, ["99999", "working on it"]),  # no such ticket
    (BOB, {"kind": "order_followup", "order_number": "4567"}, ["4567", "shipped"]),  # Alice's order
    (None, {"kind": "order_followup", "order_number": "4567"}, ["4567", "shipped"]),  # callee unknown
    (ALICE, {"kind": "order_followup", "order_number": "1234"}, ["1234"]),  # no such order
])
def test_outbound_greeting_tells_only_the_callee_their_own_facts(manager: DialogueManager, caller: str | None,
                                                                 reason: dict, unsaid: list[str]) -> None:
    greeting = manager.start(caller, direction="outbound", reason=reason).greet()
    assert "returning your call" in greeting.text
    assert not [word for word in unsaid if word in greeting.text]


def test_outbound_ticket_follow_up_reads_the_ticket(manager: DialogueManager, store: CrmStore) -> None:
    ticket = store.open_ticket(category="delivery", text="Parcel is late.", order_number="4567")  # Alice's
    reason = {"kind": "ticket_followup", "ticket_number": ticket.number}
    working = manager.start(ALICE, direction="outbound", reason=reason).greet()
    assert ticket.number in working.text and "working on it" in working.text
    store.set_ticket_status(ticket.number, "closed")
    closed = manager.start(ALICE, direction="outbound", reason=reason).greet()
    assert ticket.number in closed.text and "closed" in closed.text and "working on it" not in closed.text
    assert "returning your call" in manager.start(BOB, direction="outbound", reason=reason).greet().text


def test_bad_input_gets_clear_errors(manager: DialogueManager) -> None:
    conv = manager.start(None)
    with pytest.raises(TypeError, match="transcript"):
        conv.respond(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="DTMF"):
        conv.keypress("x")
    with pytest.raises(ValueError, match="direction"):
        manager.start(None, direction="sideways")
    with pytest.raises(ValueError, match="kind"):
        manager.start(None, direction="outbound", reason={"kind": "lottery"})


class _OtherGenerator:
    """Someone else's generator: delexicalised text for order answers (good or bad), templates otherwise."""

    name = "other"

    def __init__(self, text: str, confidence: float | None = 0.9) -> None:
        self.text, self.confidence = text, confidence

    def generate(self, act: DialogueAct, context: ReplyContext) -> GeneratedReply:
        if self.text == "raise":
            raise RuntimeError("model server down")
        if act.name.startswith("order_"):
            return GeneratedReply(self.text, self.name, self.confidence)
        return TemplateGenerator().generate(act, context)


@pytest.mark.parametrize("text, confidence, used", [
    ("Order [order_number] is [order_status].", 0.9, "other"),
    ("Order [order_number] is [order_status].", None, "other"),  # no confidence given: the other checks decide
    ("Your order is on its way.", 0.9, "fallback:placeholder"),  # dropped the required order number
    ("Order [order_number] arrives via [courier_name].", 0.9, "fallback:placeholder"),  # invented a placeholder
    ("Order [order_number] has [order_status] and arrives on the 12th, goodbye!", 0.9, "fallback:placeholder"),
    ("Order [order_number] has [order_status] and should arrive today.", 0.9, "fallback:intent"),  # no such day
    ("Order [order_number] has [order_status] as a priority.", None, "fallback:intent"),  # a promise
    ("Order [order_number] is [order_status].", 0.1, "fallback:confidence"),  # not confident
    ("raise", 0.9, "fallback:error"),
])
def test_other_generators_pass_the_same_safety_gate(store: CrmStore, text: str, confidence: float | None,
                                                    used: str) -> None:
    manager = DialogueManager(store, generator=_OtherGenerator(text, confidence))
    turn = manager.start(None).respond("where is order 4567")
    assert turn.generator.split("+")[0] == used  # "other+template": the order act, then the offer_more template
    assert "4567" in turn.text and "shipped" in turn.text and "[" not in turn.text
    assert "12th" not in turn.text and "today" not in turn.text and "priority" not in turn.text


def test_fill_never_guesses() -> None:
    assert fill("Order [order_number].", {"order_number": "4567"}) == "Order 4567."
    with pytest.raises(KeyError, match="ticket_id"):
        fill("Ticket [ticket_id].", {})


def test_templates_cover_every_act_with_only_its_values() -> None:
    assert set(TEMPLATES) == set(ACTS)
    for name, variants in TEMPLATES.items():
        required, optional = ACTS[name]
        assert len(variants) >= 2, name
        assert all(placeholders(v) <= set(required) | set(optional) for v in variants), name
        # With every value present, the chosen variant mentions all required ones.
        full = DialogueAct(name, "", {k: "x" for k in required + optional})
        assert set(required) <= placeholders(TemplateGenerator().generate(full, ReplyContext(0)).text), name


def test_numbers_in_replies_are_labelled_for_the_tts() -> None:
    # The TTS reads "order 4567" / "ticket 1003" digit by digit; a bare "4567" would become a cardinal.
    for name, variants in TEMPLATES.items():
        for text in variants:
            for m in re.finditer(r"\[(order_number|ticket_id)\]", text):
                assert re.search(r"\b(order|ticket|number)\s$", text[:m.start()], re.I), (name, text)
