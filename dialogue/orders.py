"""Order look-ups the policy needs beyond `store.order(number)`, and the act that answers for an order."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from dialogue.acts import DialogueAct
from dialogue.crm import Crm
from dialogue.spoken import spoken_date, status_words

log = logging.getLogger(__name__)

OPEN_STATUSES = ("pending", "processing", "shipped", "out_for_delivery")
MAX_LISTED = 3


class OrderDesk:
    def __init__(self, store: Crm, today: Callable[[], dt.date] = dt.date.today) -> None:
        self.store = store
        self.today = today

    def _orders(self, customer: Any) -> list[Any]:
        if customer is None:
            return []
        try:
            return self.store.orders_for_customer(customer.id)
        except KeyError:  # crm_store.NotFound: the customer was removed mid-call
            log.warning("customer %s vanished from the CRM", customer.id)
            return []

    def by_product(self, customer: Any, product: str | None) -> Any:
        """The known caller's newest order containing `product` ("my blender arrived broken")."""
        if product is None:
            return None
        for order in self._orders(customer):
            if any(item.product_name == product for item in order.items):
                return order
        return None

    def open_numbers(self, customer: Any) -> list[str]:
        """Numbers of the caller's orders still on their way, newest first (at most MAX_LISTED)."""
        return [o.number for o in self._orders(customer) if o.status in OPEN_STATUSES][:MAX_LISTED]

    def is_late(self, order: Any) -> bool:
        """Still on its way after the day it was expected."""
        due = order.expected_delivery
        return order.status in OPEN_STATUSES and due is not None and due < self.today()

    def returnable(self, order: Any, days: int) -> bool:
        """Delivered, and within `days` of delivery (a delivered order without a date: staff decide)."""
        if order.status != "delivered":
            return False
        return order.delivered_on is None or (self.today() - order.delivered_on).days <= days

    def act(self, order: Any, intent: str) -> DialogueAct:
        """`order_<status>`, or `order_late` when an open order has passed its expected delivery day: a
        past date is never spoken as one to come."""
        name = "order_late" if self.is_late(order) else f"order_{order.status}"
        return DialogueAct(name, intent, self.values(order))

    def values(self, order: Any) -> dict[str, str]:
        """Reply values for an order; only what the CRM has (no value, no placeholder)."""
        today = self.today()
        values = {"order_number": order.number, "order_status": status_words(order.status)}
        for key in ("shipped_on", "delivered_on"):
            day = getattr(order, key)
            if day is not None:
                values[key] = spoken_date(day, today)
        # An expected day means something only while the order is on its way.
        if order.expected_delivery is not None and order.status in OPEN_STATUSES:
            values["expected_delivery"] = spoken_date(order.expected_delivery, today, relative=True)
        if order.carrier:
            values["carrier"] = order.carrier
        if order.tracking:
            values["tracking"] = order.tracking
        return values
