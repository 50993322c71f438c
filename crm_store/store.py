"""CrmStore: the CRM's public face. Every method runs in its own short session and returns detached views,
so one store object can be shared by all call threads."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from sqlalchemy import Engine, Select, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload, sessionmaker

from crm_store import models as m
from crm_store.calls import CallLogMixin
from crm_store.engine import is_memory, make_engines, parse_url
from crm_store.migrate import upgrade_to_head
from crm_store.phone import national_digits, to_e164
from crm_store.tickets import TicketDeskMixin
from crm_store.views import CustomerView, NotFound, OrderView, ProductView

DEFAULT_URL = "sqlite:///var/voicebot.db"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CrmStore(TicketDeskMixin, CallLogMixin):
    """Customers, products, orders, complaint tickets and the call log, in any SQLAlchemy database."""

    def __init__(self, read_engine: Engine, write_engine: Engine) -> None:
        """Use :meth:`open`; this constructor expects an already migrated database."""
        self._engine = read_engine
        self._reader = sessionmaker(read_engine, expire_on_commit=False)
        self._writer = sessionmaker(write_engine, expire_on_commit=False)
        # An in-memory SQLite database is one shared connection: two threads in it at once break each
        # other's transactions, so its sessions take turns. A file or a server needs no such lock.
        memory = read_engine.url.get_backend_name() == "sqlite" and is_memory(read_engine.url)
        self._turn: AbstractContextManager = threading.RLock() if memory else nullcontext()

    @classmethod
    def open(cls, url: str = DEFAULT_URL) -> CrmStore:
        """Open (creating if needed) the database at ``url`` and migrate it to the newest schema."""
        read_engine, write_engine = make_engines(parse_url(url))
        upgrade_to_head(write_engine)
        return cls(read_engine, write_engine)

    @property
    def url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> CrmStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._turn, self._reader() as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        with self._turn, self._writer.begin() as session:
            yield session

    def is_empty(self) -> bool:
        """True when the database holds no customers, products, orders or tickets."""
        with self._read() as s:
            return not any(
                s.scalar(select(exists().select_from(table)))
                for table in (m.Customer, m.Product, m.Order, m.Ticket)
            )

    # -- customers ---------------------------------------------------------------------------------------

    def customer_by_phone(self, phone: str) -> CustomerView | None:
        """The customer calling from ``phone``: a number in any common format or a SIP/tel URI."""
        e164 = to_e164(phone)
        with self._read() as s:
            if e164 is not None:
                row = s.scalar(select(m.Customer).where(m.Customer.phone == e164))
                if row is not None:
                    return CustomerView.of(row)
            digits = national_digits(phone)
            if digits is None:
                return None
            # A number dialled without its country code: accept it only if exactly one customer ends so.
            rows = s.scalars(select(m.Customer).where(m.Customer.phone.like(f"%{digits}")).limit(2)).all()
            return CustomerView.of(rows[0]) if len(rows) == 1 else None

    def customer(self, customer_id: int) -> CustomerView | None:
        with self._read() as s:
            row = s.get(m.Customer, customer_id)
            return CustomerView.of(row) if row is not None else None

    def update_contact(
        self,
        customer_id: int,
        *,
        email: str | None = None,
        phone: str | None = None,
        address: str | None = None,
    ) -> CustomerView:
        """Change the given contact fields (None leaves a field as it is) and return the updated customer."""
        if email is None and phone is None and address is None:
            raise ValueError("update_contact needs at least one of email, phone, address")
        changes: dict[str, str] = {}
        if email is not None:
            email = email.strip()
            if not _EMAIL.match(email) or len(email) > 254:
                raise ValueError(f"email {email!r} is not a valid address (like name@example.com)")
            changes["email"] = email
        if phone is not None:
            e164 = to_e164(phone)
            if e164 is None:
                raise ValueError(f"phone {phone!r} is not a valid number (E.164 like +15551230001 expected)")
            changes["phone"] = e164
        if address is not None:
            address = " ".join(address.split())
            if not address or len(address) > 300:
                raise ValueError(f"address {address!r} must be 1-300 characters")
            changes["address"] = address
        try:
            with self._write() as s:
                row = s.get(m.Customer, customer_id)
                if row is None:
                    raise NotFound(f"no customer with id {customer_id}")
                for name, value in changes.items():
                    setattr(row, name, value)
                s.flush()
                return CustomerView.of(row)
        except IntegrityError:
            raise ValueError(f"phone {changes.get('phone')} already belongs to another customer") from None

    # -- catalogue and orders ----------------------------------------------------------------------------

    def products(self) -> list[ProductView]:
        with self._read() as s:
            return [ProductView.of(p) for p in s.scalars(select(m.Product).order_by(m.Product.name))]

    def product(self, name: str) -> ProductView | None:
        """A product by its catalogue name, ignoring case and extra spaces."""
        key = " ".join(str(name).split()).lower()
        if not key:
            return None
        with self._read() as s:
            row = s.scalar(select(m.Product).where(func.lower(m.Product.name) == key))
            return ProductView.of(row) if row is not None else None

    @staticmethod
    def _order_query() -> Select[tuple[m.Order]]:
        return select(m.Order).options(
            joinedload(m.Order.customer), selectinload(m.Order.items).joinedload(m.OrderItem.product)
        )

    def order(self, number: str) -> OrderView | None:
        """The order with this number ("4567", "#4567", " 4567 "); None if unknown or not a number."""
        key = m.number_key(number)
        if key is None:
            return None
        with self._read() as s:
            row = s.scalar(self._order_query().where(m.Order.number == key))
            return OrderView.of(row) if row is not None else None

    def orders_for_customer(self, customer_id: int) -> list[OrderView]:
        """The customer's orders, newest first. Raises NotFound for an unknown customer."""
        with self._read() as s:
            if s.get(m.Customer, customer_id) is None:
                raise NotFound(f"no customer with id {customer_id}")
            query = (
                self._order_query()
                .where(m.Order.customer_id == customer_id)
                .order_by(m.Order.placed_on.desc(), m.Order.id.desc())
            )
            return [OrderView.of(row) for row in s.scalars(query)]
