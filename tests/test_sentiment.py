"""Caller sentiment: a trained classifier measured on a held-out set, stored per turn and per call, and an
angry caller (twice in a row) offered a person."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_store import CrmStore
from crm_store.demo import ALICE_PHONE as ALICE
from dialogue import DialogueManager
from dialogue.sentiment import ANGRY_BELOW, CORPUS_DIR, default_sentiment, heldout_accuracy, read_sentiment

ANGRY = ["this is ridiculous my order 345 is a week late", "i'm so fed up nobody ever tells me anything"]


def test_heldout_accuracy(capsys: pytest.CaptureFixture) -> None:
    # Bar: 85% over three classes (the majority class is 36% of the held-out set), and at most 3% polar
    # flips (angry read as pleased or the reverse): those are the mistakes that change what the bot does,
    # and one alone cannot trigger the offer of a person (it takes two angry turns in a row).
    # The held-out set is written in another register (chat, punctuation) and never trained on.
    accuracy, misses = heldout_accuracy()
    with capsys.disabled():
        print(f"\nsentiment held-out accuracy: {accuracy:.1%} ({len(misses)} misses)")
        for line in misses:
            print("  ", line)
    assert accuracy >= 0.85
    flips = [m for m in misses if m.startswith(("neg -> pos", "pos -> neg"))]
    assert len(flips) <= 0.03 * len(read_sentiment(CORPUS_DIR / "heldout.txt"))
    train = {t.lower() for t, _ in read_sentiment(CORPUS_DIR / "train.txt")}
    assert not [t for t, _ in read_sentiment(CORPUS_DIR / "heldout.txt") if t.lower() in train]


def test_scores_are_in_range_and_ordered() -> None:
    s = default_sentiment()
    angry, calm, pleased = (s.score(t) for t in ("This is ridiculous, I'm furious!", "where is my order",
                                                 "Brilliant, thanks so much!"))
    assert -1 <= angry < ANGRY_BELOW < calm < pleased <= 1
    # A calmly reported problem is not anger: it must not trigger the offer of a person.
    assert s.score("my blender arrived broken") > ANGRY_BELOW


@pytest.mark.parametrize("nothing", ["", "um", "uh... hmm", "[BLANK_AUDIO]", "(coughs)", " . "])
def test_saying_nothing_has_no_mood(nothing: str) -> None:
    assert default_sentiment().score(nothing) is None


def test_bad_corpus_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("neg\tfine line\nangry\tnot a label\n")
    with pytest.raises(ValueError, match="bad.txt line 2: expected '<label>.*neg, neu, pos"):
        read_sentiment(bad)


def test_sentiment_is_stored_per_turn_and_per_call(store: CrmStore) -> None:
    conv = DialogueManager(store).start(ALICE)
    greeting = conv.greet()
    turns = [conv.respond("where is my order 4567"), conv.respond("great thanks so much")]
    conv.close()
    assert greeting.sentiment is None and turns[1].sentiment > turns[0].sentiment
    record = store.interaction(conv.interaction_id)
    assert [t.sentiment for t in record.turns] == [None] + [t.sentiment for t in turns]
    assert record.sentiment == pytest.approx(sum(t.sentiment for t in turns) / 2, abs=1e-3)


def test_two_angry_turns_are_offered_a_person_then_transferred(store: CrmStore) -> None:
    conv = DialogueManager(store, transfer_target="sip:agents@127.0.0.1").start(ALICE)
    first = conv.respond(ANGRY[0])
    assert first.sentiment < ANGRY_BELOW and "offer_agent_upset" not in first.act
    second = conv.respond(ANGRY[1])
    assert second.sentiment < ANGRY_BELOW
    assert second.act.endswith("offer_agent_upset") and second.expecting == "confirm_agent"
    assert "person" in second.text
    assert conv.respond("yes").transfer_to == "sip:agents@127.0.0.1"


def test_a_filler_between_two_angry_turns_still_gets_a_person_offered(store: CrmStore) -> None:
    conv = DialogueManager(store, transfer_target="sip:agents@127.0.0.1").start(ALICE)
    conv.respond(ANGRY[0])
    for nothing in ("um", "[BLANK_AUDIO]"):
        assert conv.respond(nothing).sentiment is None  # no words, no mood: the angry run goes on
    second = conv.respond(ANGRY[1])
    assert second.act.endswith("offer_agent_upset") and "person" in second.text
    conv.close()
    record = store.interaction(conv.interaction_id)
    assert [t.sentiment is None for t in record.turns] == [False, True, True, False]
    assert record.sentiment < ANGRY_BELOW  # the call's mood is the mean of the turns with words


def test_without_a_transfer_target_the_angry_caller_gets_a_callback(store: CrmStore) -> None:
    conv = DialogueManager(store).start(ALICE)
    conv.respond(ANGRY[0])
    offer = conv.respond(ANGRY[1])
    assert offer.act.endswith("offer_callback_upset") and offer.expecting == "confirm_callback"
    done = conv.respond("yes please")
    ticket = next(t for t in store.tickets() if t.interaction_id == conv.interaction_id and
                  t.category == "service")
    assert ticket.number in done.text


def test_angry_complaint_still_files_a_ticket_and_notifies_staff(store: CrmStore) -> None:
    conv = DialogueManager(store).start(ALICE)
    conv.respond("i'm furious this is the third time i've called")
    turn = conv.respond("this is ridiculous my blender arrived smashed")
    ticket = next(t for t in store.tickets() if t.interaction_id == conv.interaction_id)
    assert ticket.category == "damaged" and ticket.number in turn.text
    assert any(n.ticket_number == ticket.number for n in store.notifications())
    assert "offer_callback_upset" in turn.act  # the ticket, and a person offered instead of "anything else?"


def test_one_angry_turn_or_calm_complaints_are_not_offered_a_person(store: CrmStore) -> None:
    conv = DialogueManager(store, transfer_target="sip:agents@127.0.0.1").start(ALICE)
    conv.respond(ANGRY[0])
    calm = conv.respond("what's the status of order 1024")
    assert "offer_agent_upset" not in calm.act and calm.expecting == "anything_else"
    conv = DialogueManager(store, transfer_target="sip:agents@127.0.0.1").start(ALICE)
    conv.respond("my blender arrived broken")
    assert "upset" not in conv.respond("and the toaster doesn't work").act
