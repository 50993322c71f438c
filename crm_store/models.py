"""SQLAlchemy ORM models of the CRM schema.

The schema itself is created by the Alembic migrations in ``crm_store/migrations``; these models must stay in
step with them (a test compares the migrated schema to this metadata). Only portable types are used, so any
SQLAlchemy backend works. Datetimes are stored naive and always mean UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints keep future migrations (ALTER, SQLite batch mode) addressable by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ORDER_STATUSES: tuple[str, ...] = (
    "pending", "processing", "shipped", "out_for_delivery", "delivered", "cancelled", "returned",
)
TICKET_STATUSES: tuple[str, ...] = ("open", "in_progress", "closed")
DIRECTIONS: tuple[str, ...] = ("inbound", "outbound")
# Complaint category -> staff team that gets the ticket's notification.
TICKET_CATEGORIES: MappingProxyType[str, str] = MappingProxyType({
    "delivery": "logistics",
    "damaged": "returns",
    "billing": "billing",
    "quality": "product quality",
    "service": "customer care",
    "other": "customer care",
})


def number_key(number: str | None) -> str | None:
    """Canonical order or ticket number ("4567") from "#4567", " 4567 ", "45-67"; None if it is not a
    number."""
    if number is None:
        return None
    text = re.sub(r"[\s\-]", "", str(number)).lstrip("#")
    return text if text.isdigit() and len(text) <= 12 else None


def utc_now() -> dt.datetime:
    """Naive UTC, the form every DateTime column holds."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON}


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(16), unique=True)  # E.164, e.g. +15551230001
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(300))
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    orders: Mapped[list[Order]] = relationship(back_populates="customer")


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (CheckConstraint("stock >= 0", name="stock_not_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    stock: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(Text, default="")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (CheckConstraint(_one_of("status", ORDER_STATUSES), name="status_known"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(12), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    placed_on: Mapped[dt.date] = mapped_column(Date)
    shipped_on: Mapped[dt.date | None] = mapped_column(Date)
    expected_delivery: Mapped[dt.date | None] = mapped_column(Date)
    delivered_on: Mapped[dt.date | None] = mapped_column(Date)
    carrier: Mapped[str | None] = mapped_column(String(40))
    tracking: Mapped[str | None] = mapped_column(String(64))

    customer: Mapped[Customer] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.id"
    )


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 2))  # price when ordered, not today's

    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()


class Interaction(Base):
    """One call, inbound or outbound."""

    __tablename__ = "interactions"
    __table_args__ = (CheckConstraint(_one_of("direction", DIRECTIONS), name="direction_known"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caller: Mapped[str | None] = mapped_column(String(255))  # as signalled: number or SIP URI
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    direction: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(40))
    recording_path: Mapped[str | None] = mapped_column(String(500))
    sentiment: Mapped[float | None] = mapped_column(Float)

    turns: Mapped[list[InteractionTurn]] = relationship(
        back_populates="interaction", cascade="all, delete-orphan", order_by="InteractionTurn.turn_index"
    )


class InteractionTurn(Base):
    __tablename__ = "interaction_turns"
    __table_args__ = (UniqueConstraint("interaction_id", "turn_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"))
    turn_index: Mapped[int] = mapped_column(Integer)  # "index" is an SQL keyword
    transcript: Mapped[str] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(String(60))
    slots: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reply: Mapped[str] = mapped_column(Text)
    generator: Mapped[str] = mapped_column(String(40))
    sentiment: Mapped[float | None] = mapped_column(Float)
    timings_ms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)

    interaction: Mapped[Interaction] = relationship(back_populates="turns")


class Ticket(Base):
    """A complaint, routed to a team."""

    __tablename__ = "tickets"
    __table_args__ = (CheckConstraint(_one_of("status", TICKET_STATUSES), name="status_known"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(12), unique=True)
    category: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    team: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)

    order: Mapped[Order | None] = relationship()


class Notification(Base):
    """A message to the staff team that owns a ticket."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    team: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    read: Mapped[bool] = mapped_column(Boolean, default=False)

    ticket: Mapped[Ticket] = relationship()
