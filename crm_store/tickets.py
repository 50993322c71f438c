"""Complaint tickets and the staff notifications they raise (part of CrmStore)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from crm_store import models as m
from crm_store.views import NotFound, NotificationView, TicketView

FIRST_TICKET_NUMBER = 1001
MAX_TEXT = 5000
_PREVIEW = 140


def check_limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    return limit


def check_ticket_status(status: str) -> str:
    if status not in m.TICKET_STATUSES:
        raise ValueError(f"unknown ticket status {status!r}; allowed: {', '.join(m.TICKET_STATUSES)}")
    return status


def _notification_text(ticket: m.Ticket, customer: m.Customer | None, order: m.Order | None) -> str:
    who = customer.name if customer is not None else "an unidentified caller"
    about = f" about order #{order.number}" if order is not None else ""
    text = ticket.text if len(ticket.text) <= _PREVIEW else ticket.text[: _PREVIEW - 1].rstrip() + "…"
    return f"Ticket #{ticket.number} ({ticket.category}) from {who}{about}: {text}"


class TicketDeskMixin:
    """Needs ``_read()`` and ``_write()`` session factories from CrmStore."""

    _read: Callable[[], AbstractContextManager[Session]]
    _write: Callable[[], AbstractContextManager[Session]]

    def open_ticket(
        self,
        *,
        category: str,
        text: str,
        customer_id: int | None = None,
        order_number: str | None = None,
        interaction_id: int | None = None,
    ) -> TicketView:
        """File a complaint, route it to the category's team and notify that team.

        With an order but no customer, the ticket is attributed to the order's customer.
        """
        key = category.strip().lower() if isinstance(category, str) else None
        if key not in m.TICKET_CATEGORIES:
            allowed = ", ".join(m.TICKET_CATEGORIES)
            raise ValueError(f"unknown ticket category {category!r}; allowed: {allowed}")
        text = " ".join(str(text or "").split())
        if not text:
            raise ValueError("ticket text is empty; say what the complaint is about")
        if len(text) > MAX_TEXT:
            raise ValueError(f"ticket text is {len(text)} characters; at most {MAX_TEXT} allowed")
        order_key = None
        if order_number is not None:
            order_key = m.number_key(order_number)
            if order_key is None:
                raise ValueError(f"order number {order_number!r} is not a number")
        for attempt in range(3):  # a concurrent ticket may take our number on backends without lock-at-begin
            try:
                with self._write() as s:
                    return self._insert_ticket(s, key, text, customer_id, order_key, interaction_id)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _insert_ticket(
        s: Session, category: str, text: str, customer_id: int | None, order_key: str | None,
        interaction_id: int | None,
    ) -> TicketView:
        order = None
        if order_key is not None:
            order = s.scalar(select(m.Order).where(m.Order.number == order_key))
            if order is None:
                raise NotFound(f"no order number {order_key}")
            if customer_id is None:
                customer_id = order.customer_id
        customer = None
        if customer_id is not None:
            customer = s.get(m.Customer, customer_id)
            if customer is None:
                raise NotFound(f"no customer with id {customer_id}")
        if interaction_id is not None and s.get(m.Interaction, interaction_id) is None:
            raise NotFound(f"no interaction with id {interaction_id}")
        highest = s.scalar(select(func.max(cast(m.Ticket.number, Integer))))
        number = str(max(FIRST_TICKET_NUMBER, (highest or 0) + 1))
        team = m.TICKET_CATEGORIES[category]
        now = m.utc_now()
        ticket = m.Ticket(
            number=number, category=category, order=order, customer_id=customer_id,
            interaction_id=interaction_id, text=text, status="open", team=team, created_at=now,
        )
        s.add(ticket)
        s.add(m.Notification(
            ticket=ticket, team=team, message=_notification_text(ticket, customer, order), created_at=now,
        ))
        s.flush()
        return TicketView.of(ticket)

    def tickets(self, status: str | None = None, limit: int = 50) -> list[TicketView]:
        """Tickets, newest first, optionally only those with ``status`` (open, in_progress, closed)."""
        query = select(m.Ticket).options(joinedload(m.Ticket.order))
        if status is not None:
            query = query.where(m.Ticket.status == check_ticket_status(status))
        query = query.order_by(m.Ticket.created_at.desc(), m.Ticket.id.desc()).limit(check_limit(limit))
        with self._read() as s:
            return [TicketView.of(t) for t in s.scalars(query)]

    def ticket(self, number: str) -> TicketView | None:
        """One ticket by its number ("1001" or "#1001")."""
        key = m.number_key(number)  # same digits-only shape as order numbers
        if key is None:
            return None
        with self._read() as s:
            row = s.scalar(select(m.Ticket).options(joinedload(m.Ticket.order)).where(m.Ticket.number == key))
            return TicketView.of(row) if row is not None else None

    def set_ticket_status(self, number: str, status: str) -> TicketView:
        """Move a ticket to open, in_progress or closed."""
        check_ticket_status(status)
        key = m.number_key(number)
        with self._write() as s:
            row = s.scalar(select(m.Ticket).where(m.Ticket.number == key)) if key else None
            if row is None:
                raise NotFound(f"no ticket number {number}")
            row.status = status
            s.flush()
            return TicketView.of(row)

    def notifications(self, unread_only: bool = False, limit: int = 100) -> list[NotificationView]:
        """Staff notifications, newest first."""
        query = select(m.Notification).options(joinedload(m.Notification.ticket))
        if unread_only:
            query = query.where(m.Notification.read.is_(False))
        query = query.order_by(m.Notification.created_at.desc(), m.Notification.id.desc())
        with self._read() as s:
            return [NotificationView.of(n) for n in s.scalars(query.limit(check_limit(limit)))]

    def mark_notification_read(self, notification_id: int) -> NotificationView:
        with self._write() as s:
            row = s.get(m.Notification, notification_id)
            if row is None:
                raise NotFound(f"no notification with id {notification_id}")
            row.read = True
            s.flush()
            return NotificationView.of(row)
