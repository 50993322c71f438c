"""Order look-ups the policy needs beyond `store.order(number)`, and an order's reply values."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from dialogue.spoken import spoken_date, status_words

log = logging.getLogger(__name__)

OPEN_STATUSES = ("pending", "processing", "shipped", "out_for_delivery")
MAX_LISTED = 3


class OrderDesk:
    def __init__(self, store: Any, today: Callable[[], dt.date] = dt.date.today) -> None:
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

    def values(self, order: Any) -> dict[str, str]:
        """Reply values for an order; only what the CRM has (no value, no placeholder)."""
        today = self.today()
        values = {"order_number": order.number, "order_status": status_words(order.status)}
        for key in ("expected_delivery", "shipped_on", "delivered_on"):
            day = getattr(order, key)
            if day is not None:
                values[key] = spoken_date(day, today)
        if order.carrier:
            values["carrier"] = order.carrier
        if order.tracking:
            values["tracking"] = order.tracking
        if order.status in {"delivered", "cancelled", "returned"}:
            values.pop("expected_delivery", None)  # a past promise would only confuse
        return values
