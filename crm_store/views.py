"""Read-only snapshots of CRM rows, detached from any session so they can cross threads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from crm_store import models as m

CENT = Decimal("0.01")


class NotFound(KeyError):
    """An id or number that names nothing in the store. ``str()`` is the plain message."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else "not found"


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """Columns hold naive UTC (portable across backends); hand out aware datetimes."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class CustomerView:
    id: int
    name: str
    phone: str
    email: str | None
    address: str | None
    preferences: dict[str, Any] = field(default_factory=dict)

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""

    @classmethod
    def of(cls, row: m.Customer) -> CustomerView:
        return cls(row.id, row.name, row.phone, row.email, row.address, dict(row.preferences or {}))


@dataclass(frozen=True)
class ProductView:
    id: int
    name: str
    price: Decimal
    stock: int
    description: str

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    @classmethod
    def of(cls, row: m.Product) -> ProductView:
        return cls(row.id, row.name, Decimal(row.price).quantize(CENT), row.stock, row.description or "")


@dataclass(frozen=True)
class OrderItemView:
    product_name: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class OrderView:
    id: int
    number: str
    customer_id: int
    customer_name: str
    status: str
    items: list[OrderItemView]
    placed_on: dt.date
    shipped_on: dt.date | None
    expected_delivery: dt.date | None
    delivered_on: dt.date | None
    carrier: str | None
    tracking: str | None

    @property
    def total(self) -> Decimal:
        return sum((i.unit_price * i.quantity for i in self.items), Decimal("0")).quantize(CENT)

    @classmethod
    def of(cls, row: m.Order) -> OrderView:
        items = [
            OrderItemView(i.product.name, i.quantity, Decimal(i.unit_price).quantize(CENT)) for i in row.items
        ]
        return cls(
            row.id, row.number, row.customer_id, row.customer.name, row.status, items, row.placed_on,
            row.shipped_on, row.expected_delivery, row.delivered_on, row.carrier, row.tracking,
        )


@dataclass(frozen=True)
class TicketView:
    id: int
    number: str
    category: str
    status: str
    team: str
    text: str
    customer_id: int | None
    order_number: str | None
    interaction_id: int | None
    created_at: dt.datetime

    @classmethod
    def of(cls, row: m.Ticket) -> TicketView:
        return cls(
            row.id, row.number, row.category, row.status, row.team, row.text, row.customer_id,
            row.order.number if row.order is not None else None, row.interaction_id, as_utc(row.created_at),
        )


@dataclass(frozen=True)
class NotificationView:
    id: int
    ticket_number: str
    team: str
    message: str
    created_at: dt.datetime
    read: bool

    @classmethod
    def of(cls, row: m.Notification) -> NotificationView:
        return cls(row.id, row.ticket.number, row.team, row.message, as_utc(row.created_at), row.read)


@dataclass(frozen=True)
class TurnView:
    index: int
    transcript: str
    intent: str
    slots: dict[str, Any]
    reply: str
    generator: str
    sentiment: float | None
    timings_ms: dict[str, Any]
    interrupted: bool

    @classmethod
    def of(cls, row: m.InteractionTurn) -> TurnView:
        return cls(
            row.turn_index, row.transcript, row.intent, dict(row.slots or {}), row.reply, row.generator,
            row.sentiment, dict(row.timings_ms or {}), bool(row.interrupted),
        )


@dataclass(frozen=True)
class InteractionView:
    id: int
    caller: str | None
    customer_id: int | None
    direction: str
    channel: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    outcome: str | None
    recording_path: str | None
    sentiment: float | None
    turns: list[TurnView]

    @property
    def duration_s(self) -> float | None:
        """Call length in seconds; None while the call is still open."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    @classmethod
    def of(cls, row: m.Interaction) -> InteractionView:
        return cls(
            row.id, row.caller, row.customer_id, row.direction, row.channel, as_utc(row.started_at),
            as_utc(row.ended_at), row.outcome, row.recording_path, row.sentiment,
            [TurnView.of(t) for t in row.turns],
        )
