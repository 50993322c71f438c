"""CRM store against real SQLite files: migrations, demo data, lookups, tickets, the call log, threads."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from decimal import Decimal

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from crm_store import (
    ORDER_STATUSES,
    TICKET_CATEGORIES,
    CrmStore,
    NotFound,
)
from crm_store import demo as demo_data
from crm_store.__main__ import main as crm_cli
from crm_store.demo import ALICE_PHONE as ALICE
from crm_store.demo import load_demo
from crm_store.migrate import MIGRATIONS_DIR, alembic_config, head_revision
from crm_store.models import Base

TODAY = dt.date(2026, 3, 10)
DEMO_ORDERS = {
    "pending": ("101", "1024", "10001"),
    "processing": ("212", "2048", "23456"),
    "shipped": ("345", "4567", "34567"),
    "out_for_delivery": ("456", "3141", "45678"),
    "delivered": ("567", "5150", "56789"),
    "cancelled": ("678", "6060", "67890"),
    "returned": ("789", "7321", "78901"),
}


def run_at_once(work, count: int, timeout: float) -> None:  # noqa: ANN001
    """`work(0..count-1)` on `count` threads, joined within `timeout` seconds each."""
    threads = [threading.Thread(target=work, args=(w,)) for w in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'nested' / 'crm.db'}"


@pytest.fixture
def empty_store(db_url):
    crm = CrmStore.open(db_url)
    yield crm
    crm.close()


@pytest.fixture
def demo(empty_store):
    load_demo(empty_store, today=TODAY)
    return empty_store


# -- opening and migrations ------------------------------------------------------------------------------


def test_fresh_file_is_created_migrated_and_empty(tmp_path, db_url):
    crm = CrmStore.open(db_url)
    try:
        assert (tmp_path / "nested" / "crm.db").is_file()
        assert crm.url == db_url
        assert crm.is_empty()
        assert crm.products() == [] and crm.tickets() == [] and crm.interactions() == []
    finally:
        crm.close()


def test_migrated_schema_matches_the_orm_models(empty_store, db_url):
    engine = create_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert context.get_current_revision() == head_revision()
        assert compare_metadata(context, Base.metadata) == []
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert {"customers", "products", "orders", "order_items", "interactions", "interaction_turns",
            "tickets", "notifications"} <= tables


def test_sqlite_database_runs_in_wal_mode(empty_store, db_url):
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_opening_the_same_file_twice_is_harmless(demo, db_url):
    before = demo.order("4567")
    second = CrmStore.open(db_url)
    try:
        assert second.order("4567") == before
        load_demo(second, today=TODAY)
        assert len(second.tickets()) == 2  # nothing duplicated
        iid = second.start_interaction(caller=ALICE, customer_id=None)
        assert demo.interaction(iid) is not None  # both objects see the same data
    finally:
        second.close()


def test_bad_database_url_is_a_clear_error():
    with pytest.raises(ValueError, match="database URL"):
        CrmStore.open("not a url")


# -- demo data and lookups -------------------------------------------------------------------------------


def test_demo_has_every_status_with_three_four_and_five_digit_numbers(demo):
    assert set(DEMO_ORDERS) == set(ORDER_STATUSES)
    for status, numbers in DEMO_ORDERS.items():
        for number in numbers:
            order = demo.order(number)
            assert order is not None, number
            assert order.status == status
            assert 1 <= len(order.items) <= 3
            assert order.total == sum(i.unit_price * i.quantity for i in order.items) > 0


def test_demo_dates_follow_the_status(demo):
    for number in DEMO_ORDERS["shipped"] + DEMO_ORDERS["out_for_delivery"]:
        order = demo.order(number)
        assert order.carrier and order.tracking, number
        assert order.expected_delivery > TODAY, number
        assert order.placed_on <= order.shipped_on <= TODAY
    for number in DEMO_ORDERS["delivered"]:
        order = demo.order(number)
        assert order.delivered_on < TODAY
        assert order.placed_on <= order.delivered_on
    for number in DEMO_ORDERS["pending"] + DEMO_ORDERS["cancelled"]:
        assert demo.order(number).shipped_on is None


def test_demo_appears_whole_or_not_at_all(empty_store, monkeypatch):
    monkeypatch.setattr(demo_data, "TICKETS", demo_data.TICKETS + [("delivery", "Late.", "9999")])  # no such order
    with pytest.raises(NotFound, match="9999"):
        load_demo(empty_store, today=TODAY)
    assert empty_store.is_empty() and empty_store.products() == []


def test_demo_load_is_idempotent(demo):
    counts = (len(demo.products()), len(demo.orders_for_customer(1)), len(demo.tickets()),
              len(demo.notifications()))
    load_demo(demo, today=TODAY)
    load_demo(demo)
    assert (len(demo.products()), len(demo.orders_for_customer(1)), len(demo.tickets()),
            len(demo.notifications())) == counts == (10, 4, 2, 2)
    assert not demo.is_empty()


def test_alice_and_her_orders(demo):
    alice = demo.customer_by_phone(ALICE)
    assert alice.name == "Alice Johnson" and alice.first_name == "Alice"
    assert alice.email == "alice.johnson@example.com"
    assert alice.address == "12 Maple Street, Springfield"
    assert alice.preferences == {"contact": "email"}
    assert demo.customer(alice.id) == alice
    orders = demo.orders_for_customer(alice.id)
    assert {o.number for o in orders} == {"4567", "1024", "567", "23456"}
    assert [o.placed_on for o in orders] == sorted((o.placed_on for o in orders), reverse=True)
    assert all(o.customer_name == "Alice Johnson" for o in orders)
    order = demo.order("4567")
    assert order.customer_id == alice.id and order.status == "shipped"


def test_every_demo_customer_is_known_by_phone(demo):
    names = ["Alice Johnson", "Bob Smith", "Carol Diaz", "David Lee", "Emma Brown", "Frank Miller"]
    for i, name in enumerate(names, start=1):
        customer = demo.customer_by_phone(f"+1555123000{i}")
        assert customer.name == name
        assert customer.email and customer.address


@pytest.mark.parametrize("caller", [
    "+15551230001", "+1 (555) 123-0001", "5551230001", "555.123.0001", "1-555-123-0001",
    "sip:+15551230001@10.0.0.1:5060", "<sip:+15551230001@10.0.0.1:5060>",
    '"Alice" <sip:5551230001@pbx.example.com;user=phone>;tag=abc', "tel:+1-555-123-0001",
    "001 555 123 0001",
])
def test_phone_variants_find_the_customer(demo, caller):
    assert demo.customer_by_phone(caller).phone == ALICE


@pytest.mark.parametrize("caller", [
    "", "anonymous", "sip:anonymous@anonymous.invalid", "+15559990000", "+445551230001", "12",
    "sip:alice@example.com",
    "123-0001", "sip:1230001@10.0.0.9", "51230001",  # the end of Alice's number is not Alice
])
def test_unknown_or_hidden_callers_are_not_matched(demo, caller):
    assert demo.customer_by_phone(caller) is None


def test_a_full_national_number_without_country_code_is_matched_by_suffix(demo):
    frank = demo.update_contact(6, phone="+442079460958")  # a UK customer
    assert demo.customer_by_phone("020 7946 0958") == frank  # dialled nationally: trunk 0, ten digits
    assert demo.customer_by_phone("7946 0958") is None


def test_order_lookup_tolerates_spacing_and_hash(demo):
    assert demo.order(" 4567 ").number == "4567"
    assert demo.order("#4567").number == "4567"
    assert demo.order("9999") is None
    assert demo.order("forty") is None
    assert demo.order("") is None


def test_products_and_stock(demo):
    products = demo.products()
    assert len(products) == 10
    assert all(p.description for p in products)
    coffee = demo.product("Coffee Maker")
    assert coffee.name == "coffee maker" and coffee.price == Decimal("49.50") and not coffee.in_stock
    watch = demo.product("  smart   watch ")
    assert watch.price == Decimal("199.00") and watch.stock == 8 and watch.in_stock
    assert demo.product("flying car") is None


def test_unknown_customer_orders_raise_not_found(demo):
    with pytest.raises(NotFound, match="customer") as err:
        demo.orders_for_customer(999)
    assert isinstance(err.value, KeyError)
    assert demo.customer(999) is None


def test_views_are_frozen(demo):
    with pytest.raises(dataclasses.FrozenInstanceError):
        demo.customer_by_phone(ALICE).name = "Mallory"


# -- contact details -------------------------------------------------------------------------------------


def test_update_contact_persists_normalised(demo, db_url):
    alice = demo.customer_by_phone(ALICE)
    updated = demo.update_contact(alice.id, email=" alice@new.example.com ", phone="+1 555 777 0101",
                                  address="  3 New   Road, Springfield ")
    assert (updated.email, updated.phone, updated.address) == (
        "alice@new.example.com", "+15557770101", "3 New Road, Springfield")
    reopened = CrmStore.open(db_url)
    try:
        assert reopened.customer_by_phone("5557770101") == updated
        assert reopened.customer_by_phone(ALICE) is None
    finally:
        reopened.close()


def test_update_contact_rejects_bad_input(demo):
    alice = demo.customer_by_phone(ALICE)
    with pytest.raises(ValueError, match="email"):
        demo.update_contact(alice.id, email="not-an-email")
    with pytest.raises(ValueError, match="phone"):
        demo.update_contact(alice.id, phone="12")
    with pytest.raises(ValueError, match="already belongs"):
        demo.update_contact(alice.id, phone="+15551230002")
    with pytest.raises(ValueError, match="at least one"):
        demo.update_contact(alice.id)
    with pytest.raises(NotFound, match="customer"):
        demo.update_contact(999, email="x@example.com")
    assert demo.customer(alice.id) == alice  # nothing half-written


# -- tickets and notifications ---------------------------------------------------------------------------


def test_ticket_numbers_start_at_1001(empty_store):
    ticket = empty_store.open_ticket(category="other", text="Please call me back.")
    assert ticket.number == "1001" and ticket.status == "open" and ticket.team == "customer care"
    assert empty_store.open_ticket(category="other", text="Again.").number == "1002"


@pytest.mark.parametrize("category", sorted(TICKET_CATEGORIES))
def test_open_ticket_notifies_the_right_team(demo, category):
    expected_team = {"delivery": "logistics", "damaged": "returns", "billing": "billing",
                     "quality": "product quality", "service": "customer care", "other": "customer care"}
    ticket = demo.open_ticket(category=category, text="Something went wrong.", order_number="#4567")
    assert ticket.team == expected_team[category]
    assert ticket.number == "1003"  # the demo holds 1001 and 1002
    assert ticket.order_number == "4567"
    assert ticket.customer_id == demo.customer_by_phone(ALICE).id  # taken from the order
    newest = demo.notifications(unread_only=True)[0]
    assert newest.ticket_number == "1003" and newest.team == expected_team[category]
    assert "Alice Johnson" in newest.message and "4567" in newest.message and not newest.read
    assert demo.tickets(status="open")[0] == ticket


def test_ticket_links_interaction_and_status_changes(demo):
    iid = demo.start_interaction(caller=ALICE, customer_id=None)
    ticket = demo.open_ticket(category="billing", text="Charged twice.", interaction_id=iid)
    assert ticket.interaction_id == iid and ticket.customer_id is None and ticket.order_number is None
    demo.set_ticket_status(ticket.number, "in_progress")
    assert [t.number for t in demo.tickets(status="in_progress")] == [ticket.number]
    note = demo.notifications()[0]
    assert "unidentified caller" in note.message
    assert demo.mark_notification_read(note.id).read
    assert note.id not in {n.id for n in demo.notifications(unread_only=True)}


def test_ticket_bad_input_is_rejected(demo):
    with pytest.raises(ValueError, match="delivery, damaged, billing"):
        demo.open_ticket(category="refund", text="x")
    with pytest.raises(ValueError, match="empty"):
        demo.open_ticket(category="other", text="   ")
    with pytest.raises(NotFound, match="order number 9999"):
        demo.open_ticket(category="delivery", text="Late.", order_number="9999")
    with pytest.raises(NotFound, match="customer"):
        demo.open_ticket(category="delivery", text="Late.", customer_id=999)
    with pytest.raises(NotFound, match="interaction"):
        demo.open_ticket(category="delivery", text="Late.", interaction_id=999)
    with pytest.raises(ValueError, match="open, in_progress, closed"):
        demo.tickets(status="done")
    assert len(demo.tickets()) == 2 and len(demo.notifications()) == 2  # no stray rows


# -- the call log ----------------------------------------------------------------------------------------


def test_interaction_with_turns_round_trips(demo, db_url):
    alice = demo.customer_by_phone(ALICE)
    iid = demo.start_interaction(caller="sip:+15551230001@10.0.0.1:5060", customer_id=alice.id)
    demo.add_turn(iid, index=0, transcript="where is my order 4567", intent="order_status",
                  slots={"order_number": "4567"}, reply="It shipped.", sentiment=-0.2,
                  timings_ms={"asr": 310, "nlu": 4})
    demo.add_turn(iid, index=1, transcript="thanks", intent="goodbye", slots={}, reply="Bye!",
                  generator="seq2seq")
    demo.update_turn(iid, 0, timings_ms={"asr": 310, "nlu": 4, "tts_first": 60}, interrupted=True)
    assert demo.interaction(iid).duration_s is None  # still open
    demo.close_interaction(iid, outcome="resolved", recording_path="/rec/1.wav", sentiment=0.5)

    reopened = CrmStore.open(db_url)
    try:
        call = reopened.interaction(iid)
    finally:
        reopened.close()
    assert call == demo.interaction(iid) and call.duration_s is not None and call.duration_s >= 0
    assert (call.caller, call.customer_id, call.direction, call.channel) == (
        "sip:+15551230001@10.0.0.1:5060", alice.id, "inbound", "sip")
    assert (call.outcome, call.recording_path, call.sentiment) == ("resolved", "/rec/1.wav", 0.5)
    assert call.started_at.tzinfo is not None and call.ended_at >= call.started_at
    first, second = call.turns
    assert (first.index, first.intent, first.slots, first.sentiment) == (0, "order_status",
                                                                          {"order_number": "4567"}, -0.2)
    assert first.timings_ms == {"asr": 310, "nlu": 4, "tts_first": 60} and first.interrupted
    assert (second.index, second.generator, second.sentiment, second.interrupted) == (
        1, "seq2seq", None, False)


def test_interactions_newest_first_and_open_call_has_no_duration(demo):
    first = demo.start_interaction(caller=None, customer_id=None, direction="outbound", channel="file")
    second = demo.start_interaction(caller="5551230002", customer_id=2)
    calls = demo.interactions()
    assert [c.id for c in calls] == [second, first]
    assert calls[1].direction == "outbound" and calls[1].duration_s is None
    assert [c.id for c in demo.interactions(limit=1)] == [second]
    assert demo.interaction(999) is None


def test_call_log_rejects_bad_input(demo):
    iid = demo.start_interaction(caller=ALICE, customer_id=None)
    demo.add_turn(iid, index=0, transcript="hi", intent="greet", slots={}, reply="Hello")
    with pytest.raises(ValueError, match="already recorded"):
        demo.add_turn(iid, index=0, transcript="hi", intent="greet", slots={}, reply="Hello")
    with pytest.raises(ValueError, match="slots must hold only JSON"):
        demo.add_turn(iid, index=1, transcript="x", intent="y", slots={"when": dt.date.today()}, reply="z")
    with pytest.raises(NotFound, match="interaction with id 999"):
        demo.add_turn(999, index=0, transcript="x", intent="y", slots={}, reply="z")
    with pytest.raises(ValueError, match="allowed: transcript"):
        demo.update_turn(iid, 0, colour="red")
    with pytest.raises(NotFound, match="no turn 5"):
        demo.update_turn(iid, 5, interrupted=True)
    with pytest.raises(ValueError, match="inbound, outbound"):
        demo.start_interaction(caller=None, customer_id=None, direction="sideways")
    with pytest.raises(NotFound, match="customer"):
        demo.start_interaction(caller=None, customer_id=999)
    demo.close_interaction(iid, outcome="resolved")
    with pytest.raises(ValueError, match="already closed"):
        demo.close_interaction(iid, outcome="again")
    assert len(demo.interaction(iid).turns) == 1


# -- threads ---------------------------------------------------------------------------------------------


def test_four_threads_writing_at_once_lose_nothing(demo):
    shared = demo.start_interaction(caller=ALICE, customer_id=1)
    own: dict[int, int] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def caller(worker: int) -> None:
        try:
            start.wait()
            own[worker] = iid = demo.start_interaction(caller=f"+1555000000{worker}", customer_id=None)
            for i in range(25):
                demo.add_turn(iid, index=i, transcript=f"w{worker} t{i}", intent="x", slots={"i": i},
                              reply="ok", timings_ms={"asr": i})
                demo.add_turn(shared, index=worker * 100 + i, transcript="s", intent="x", slots={},
                              reply="ok")
                if i % 5 == 0:
                    demo.open_ticket(category="service", text=f"worker {worker} step {i}")
                    demo.order("4567")
            demo.update_turn(iid, 24, interrupted=True)
            demo.close_interaction(iid, outcome="resolved")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    run_at_once(caller, 4, timeout=120)
    assert not errors, errors
    for worker, iid in own.items():
        call = demo.interaction(iid)
        assert [t.transcript for t in call.turns] == [f"w{worker} t{i}" for i in range(25)]
        assert call.turns[-1].interrupted and call.outcome == "resolved"
    assert len(own) == 4
    assert len(demo.interaction(shared).turns) == 100
    numbers = [t.number for t in demo.tickets(limit=100)]
    assert len(numbers) == len(set(numbers)) == 2 + 4 * 5
    assert len(demo.notifications(limit=100)) == 22


def test_an_in_memory_database_serves_four_threads_at_once():
    crm = CrmStore.open("sqlite://")
    load_demo(crm, today=TODAY)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def caller(worker: int) -> None:
        try:
            start.wait()
            iid = crm.start_interaction(caller=None, customer_id=None)
            for i in range(30):
                crm.add_turn(iid, index=i, transcript="x", intent="y", slots={}, reply="z")
                crm.interactions(limit=5)
                crm.order("4567")
            crm.close_interaction(iid, outcome="resolved")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    run_at_once(caller, 4, timeout=60)
    try:
        assert not errors, errors[:3]
        assert [len(c.turns) for c in crm.interactions()] == [30] * 4
    finally:
        crm.close()


def test_downgrade_then_upgrade_rebuilds_the_schema(empty_store, db_url):
    empty_store.close()
    config = alembic_config(db_url)
    command.downgrade(config, "base")
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    again = CrmStore.open(db_url)
    try:
        load_demo(again, today=TODAY)
        assert again.order("4567").status == "shipped"
    finally:
        again.close()


def test_database_from_a_newer_version_is_a_clear_error(empty_store, db_url):
    empty_store.close()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'f00d'")
    engine.dispose()
    with pytest.raises(RuntimeError, match="cannot migrate the CRM database"):
        CrmStore.open(db_url)


def test_revision_tool_writes_nothing_when_the_models_match_the_migrations(capsys):
    versions = sorted(p.name for p in MIGRATIONS_DIR.joinpath("versions").glob("*.py"))
    assert crm_cli(["revision", "nothing changed"]) == 1
    assert "the models match the migrations" in capsys.readouterr().err
    assert sorted(p.name for p in MIGRATIONS_DIR.joinpath("versions").glob("*.py")) == versions
