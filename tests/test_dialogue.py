"""The dialogue manager end to end against a real SQLite CRM loaded with the demo data."""

from __future__ import annotations

import re
import threading

import pytest

from crm_store import CrmStore
from dialogue import DialogueAct, DialogueManager, GeneratedReply, ReplyContext, TemplateGenerator, fill
from dialogue.acts import ACTS, placeholders
from dialogue.templates import TEMPLATES

ALICE = "+15551230001"


@pytest.fixture(scope="module")
def manager(store: CrmStore) -> DialogueManager:
    return DialogueManager(store, transfer_target="sip:agents@127.0.0.1")


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


def test_every_turn_is_stored_and_the_interaction_closed(manager: DialogueManager, store: CrmStore) -> None:
    conv = manager.start(ALICE)
    turns = [conv.greet(), conv.respond("where is my order 4567"), conv.keypress("0")]
    conv.record_turn_timings(1, {"asr_ms": 310.0, "tts_first_ms": 80.0}, interrupted=True)
    conv.close(recording_path="/tmp/call.wav")
    conv.close()  # idempotent
    record = store.interaction(conv.interaction_id)
    assert record.outcome == "transferred" and record.ended_at is not None
    assert record.customer_id == conv.customer.id and record.recording_path == "/tmp/call.wav"
    assert [t.index for t in record.turns] == [t.index for t in turns] == [0, 1, 2]
    stored = record.turns[1]
    assert stored.transcript == "where is my order 4567" and stored.intent == "order_status"
    assert stored.reply == turns[1].text and stored.slots == {"order_number": "4567"}
    assert stored.interrupted and stored.timings_ms["asr_ms"] == 310.0 and "dialogue_ms" in stored.timings_ms


@pytest.mark.parametrize("lines, outcome", [
    (["where is order 4567", "no thanks"], "resolved"),
    (["my toaster arrived damaged"], "ticket_created"),
    (["hello"], "abandoned"),
])
def test_outcome_is_inferred(manager: DialogueManager, store: CrmStore, lines: list[str],
                             outcome: str) -> None:
    conv = manager.start(None)
    for line in lines:
        conv.respond(line)
    conv.close()
    assert store.interaction(conv.interaction_id).outcome == outcome


def test_one_manager_serves_concurrent_calls(manager: DialogueManager, store: CrmStore) -> None:
    callers = {"+15551230001": "Alice", "+15551230002": "Bob", "+15551230003": "Carol", None: None}
    results: dict[str | None, tuple[str, list[str], int]] = {}

    def call(caller: str | None) -> None:
        conv = manager.start(caller)
        texts = [conv.greet().text] + [conv.respond(line).text for line in
                                       ["where is my order 4567", "how much is the toaster", "bye"]]
        conv.close()
        results[caller] = (texts[0], texts[1:], conv.interaction_id)

    threads = [threading.Thread(target=call, args=(c,)) for c in callers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for caller, name in callers.items():
        greeting, replies, interaction_id = results[caller]
        assert name is None or name in greeting
        assert "shipped" in replies[0].lower() and "24.99" in replies[1]
        assert len(store.interaction(interaction_id).turns) == 4


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


class _Seq2SeqStandIn:
    """Stands in for the future learned generator: returns delexicalised text (or bad text)."""

    name = "seq2seq"

    def __init__(self, text: str, confidence: float = 0.9) -> None:
        self.text, self.confidence = text, confidence

    def generate(self, act: DialogueAct, context: ReplyContext) -> GeneratedReply:
        if act.name.startswith("order_"):
            return GeneratedReply(self.text, self.name, self.confidence)
        return TemplateGenerator().generate(act, context)


@pytest.mark.parametrize("text, confidence, used", [
    ("Your order [order_number] is [order_status].", 0.9, "seq2seq"),
    ("Your order is on its way.", 0.9, "fallback:placeholder"),  # dropped the required order number
    ("Order [order_number] arrives via [courier_name].", 0.9, "fallback:placeholder"),  # invented a placeholder
    ("Your order [order_number] is [order_status].", 0.1, "fallback:confidence"),  # not confident
])
def test_other_generators_slot_in_with_template_fallback(store: CrmStore, text: str, confidence: float,
                                                         used: str) -> None:
    manager = DialogueManager(store, generator=_Seq2SeqStandIn(text, confidence))
    turn = manager.start(None).respond("where is order 4567")
    assert used in turn.generator and "4567" in turn.text and "[" not in turn.text


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
