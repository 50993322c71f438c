"""What a call leaves in the CRM: every turn, the outcome, and a record that closes whatever went wrong."""

from __future__ import annotations

import logging
import threading

import pytest

from crm_store import CrmStore
from crm_store.demo import ALICE_PHONE as ALICE
from dialogue import DialogueManager

BOB = "+15551230002"


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


class _FlakyStore:
    """The real store, except that the next `add_turn` fails (a locked database, a full disk)."""

    def __init__(self, store: CrmStore) -> None:
        self._store = store
        self.fail_next_turn = False

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def add_turn(self, *args, **kwargs) -> None:
        if self.fail_next_turn:
            self.fail_next_turn = False
            raise RuntimeError("database is locked")
        self._store.add_turn(*args, **kwargs)


def test_a_lost_turn_write_does_not_stop_the_call_closing(store: CrmStore, caplog: pytest.LogCaptureFixture) -> None:
    flaky = _FlakyStore(store)
    conv = DialogueManager(flaky).start(ALICE)
    conv.greet()
    flaky.fail_next_turn = True
    lost = conv.respond("where is my order 4567")
    assert "shipped" in lost.text  # the caller still gets the answer
    with caplog.at_level(logging.WARNING):
        conv.record_turn_timings(lost.index, {"asr_ms": 300.0})  # nothing stored to add to: logged, not raised
        conv.record_turn_timings(0, "fast")  # type: ignore[arg-type]  # bad timings: logged, not raised
        conv.record_turn_timings(42, {"asr_ms": 1.0})  # never a turn of this call
    assert len([r for r in caplog.records if "record_turn_timings" in r.message]) == 3
    conv.close()
    record = store.interaction(conv.interaction_id)
    assert record.ended_at is not None and [t.index for t in record.turns] == [0]


def test_events_after_the_call_closed_are_ignored(manager: DialogueManager, store: CrmStore) -> None:
    conv = manager.start(None)
    conv.respond("hello")
    conv.close()
    assert conv.respond("where is order 4567") is None and conv.keypress("0") is None
    assert conv.no_input() is None and conv.greet() is None
    assert len(store.interaction(conv.interaction_id).turns) == 1


def test_an_overlong_caller_id_is_cut_not_refused(manager: DialogueManager, store: CrmStore) -> None:
    conv = manager.start("sip:" + "7" * 300 + "@pbx.example.com")
    assert "Acme" in conv.greet().text
    assert len(store.interaction(conv.interaction_id).caller) == 255
    assert store.interaction(manager.start("   ").interaction_id).caller is None


def _serve_four_calls_at_once(manager: DialogueManager, store: CrmStore) -> None:
    callers = {ALICE: "Alice", BOB: "Bob", "+15551230003": "Carol", None: None}
    results: dict[str | None, tuple[str, list[str], int]] = {}
    errors: list[BaseException] = []

    def call(caller: str | None) -> None:
        try:
            conv = manager.start(caller)
            texts = [conv.greet().text] + [conv.respond(line).text for line in
                                           ["where is my order 4567", "how much is the toaster", "bye"]]
            conv.close()
            results[caller] = (texts[0], texts[1:], conv.interaction_id)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(c,)) for c in callers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    for caller, name in callers.items():
        greeting, replies, interaction_id = results[caller]
        assert name is None or name in greeting
        assert "shipped" in replies[0].lower() and "24.99" in replies[1]
        assert len(store.interaction(interaction_id).turns) == 4


@pytest.mark.parametrize("generator", ["template", pytest.param("seq2seq", marks=pytest.mark.slow)])
def test_one_manager_serves_concurrent_calls(store: CrmStore, generator: str) -> None:
    from dialogue.seq2seq import make_generator

    reply_model = make_generator(generator)
    assert reply_model.name == generator
    _serve_four_calls_at_once(DialogueManager(store, generator=reply_model), store)
