"""Demo data set: six customers, ten products, 21 orders (every status, 3- to 5-digit numbers), two tickets.

Dates are relative to ``today`` so "shipped, arriving in two days" stays true. The order numbers are fixed:
tests and the audio fixtures say them. Loading is idempotent: rows that already exist (same phone, product
name, order number, ticket text) are left as they are.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import exists, select

from crm_store import models as m
from crm_store.store import CrmStore

ALICE_PHONE = "+15551230001"  # owns orders 4567 (shipped), 1024 (pending), 567 (delivered), 23456 (processing)
CUSTOMERS = [
    # name, phone, email, address, preferences
    ("Alice Johnson", ALICE_PHONE, "alice.johnson@example.com", "12 Maple Street, Springfield",
     {"contact": "email"}),
    ("Bob Smith", "+15551230002", "bob.smith@example.com", "48 Oak Avenue, Riverton", {"contact": "phone"}),
    ("Carol Diaz", "+15551230003", "carol.diaz@example.com", "7 Birch Lane, Lakeside", {"contact": "sms"}),
    ("David Lee", "+15551230004", "david.lee@example.com", "301 Pine Road, Hillview", {}),
    ("Emma Brown", "+15551230005", "emma.brown@example.com", "95 Cedar Court, Brookfield",
     {"contact": "email"}),
    ("Frank Miller", "+15551230006", "frank.miller@example.com", "22 Elm Drive, Fairview", {}),
]

PRODUCTS = [
    ("wireless headphones", "79.99", 25, "Over-ear Bluetooth headphones with noise cancelling."),
    ("smart watch", "199.00", 8, "Fitness and notification smart watch with heart-rate sensor and GPS."),
    ("coffee maker", "49.50", 0, "Twelve-cup drip coffee maker with a programmable timer."),
    ("running shoes", "89.95", 40, "Lightweight cushioned running shoes for road and treadmill."),
    ("laptop stand", "34.99", 15, "Adjustable aluminium stand that lifts a laptop to eye level."),
    ("blender", "59.00", 3, "Six-speed countertop blender with a 1.5-litre glass jar."),
    ("toaster", "24.99", 12, "Two-slice toaster with browning control and a defrost setting."),
    ("bluetooth speaker", "39.99", 20, "Waterproof portable speaker with 12 hours of play time."),
    ("desk lamp", "19.99", 0, "Dimmable LED desk lamp with a USB charging port."),
    ("backpack", "45.00", 30, "Water-resistant 25-litre backpack with a padded laptop sleeve."),
]

CARRIERS = ("UPS", "FedEx", "USPS", "DHL")

# number, status, owner phone suffix, items (product, quantity)
ORDERS = [
    ("101", "pending", "0002", [("toaster", 1)]),
    ("1024", "pending", "0001", [("smart watch", 1), ("backpack", 1)]),
    ("10001", "pending", "0006", [("desk lamp", 2)]),
    ("212", "processing", "0003", [("blender", 1), ("coffee maker", 1)]),
    ("2048", "processing", "0004", [("laptop stand", 1)]),
    ("23456", "processing", "0001", [("running shoes", 1)]),
    ("345", "shipped", "0005", [("bluetooth speaker", 2), ("desk lamp", 1)]),
    ("4567", "shipped", "0001", [("wireless headphones", 1), ("laptop stand", 1)]),
    ("34567", "shipped", "0002", [("backpack", 1)]),
    ("456", "out_for_delivery", "0006", [("coffee maker", 1)]),
    ("3141", "out_for_delivery", "0003", [("running shoes", 2), ("backpack", 1)]),
    ("45678", "out_for_delivery", "0004", [("smart watch", 1)]),
    ("567", "delivered", "0001", [("coffee maker", 1), ("toaster", 1), ("blender", 1)]),
    ("5150", "delivered", "0005", [("wireless headphones", 1)]),
    ("56789", "delivered", "0002", [("laptop stand", 2)]),
    ("678", "cancelled", "0004", [("blender", 1)]),
    ("6060", "cancelled", "0006", [("bluetooth speaker", 1), ("toaster", 1)]),
    ("67890", "cancelled", "0003", [("smart watch", 1)]),
    ("789", "returned", "0002", [("running shoes", 1)]),
    ("7321", "returned", "0005", [("desk lamp", 1), ("laptop stand", 1)]),
    ("78901", "returned", "0004", [("wireless headphones", 1)]),
]

TICKETS = [
    # category, text, order number
    ("damaged", "The blender from my order arrived with a cracked jar.", "567"),
    ("delivery", "Tracking has not updated for three days and the parcel is late.", "34567"),
]


def _order_dates(status: str, today: dt.date, k: int) -> dict:
    """Dates consistent with the status; ``k`` (0-2) spreads the three orders of a status apart."""
    day = dt.timedelta(days=1)
    if status == "pending":
        return {"placed_on": today - k * day}
    if status == "processing":
        return {"placed_on": today - (1 + k) * day, "expected_delivery": today + (5 + k) * day}
    if status == "shipped":
        return {"placed_on": today - (4 + k) * day, "shipped_on": today - (1 + k) * day,
                "expected_delivery": today + (2 + k) * day}
    if status == "out_for_delivery":
        # "in the future": the demo promises delivery tomorrow at the latest, never a date already past
        return {"placed_on": today - (5 + k) * day, "shipped_on": today - (2 + k) * day,
                "expected_delivery": today + day}
    if status in ("delivered", "returned"):
        back = 20 if status == "returned" else 0
        delivered = today - (3 + 4 * k + back) * day
        return {"placed_on": delivered - 6 * day, "shipped_on": delivered - 3 * day,
                "expected_delivery": delivered, "delivered_on": delivered}
    return {"placed_on": today - (8 + 3 * k) * day}  # cancelled before shipping


def _tracking(carrier: str, number: str) -> str:
    """A carrier-shaped, made-up tracking code."""
    seed = number.rjust(5, "0")
    return {
        "UPS": f"1Z999AA1{seed}0{seed[:3]}",
        "FedEx": f"7{seed}{seed[::-1]}0",
        "USPS": f"9400111{seed}{seed}0000",
        "DHL": f"JD01{seed}{seed[::-1]}",
    }[carrier]


def load_demo(store: CrmStore, today: dt.date | None = None) -> None:
    """Insert the demo data set into ``store``; missing rows are added, existing ones left unchanged."""
    today = today or dt.date.today()
    with store._write() as s:  # one transaction: the demo appears whole or not at all
        customers = {c.phone: c for c in s.scalars(select(m.Customer))}
        for name, phone, email, address, prefs in CUSTOMERS:
            if phone not in customers:
                customers[phone] = m.Customer(name=name, phone=phone, email=email, address=address,
                                              preferences=dict(prefs))
                s.add(customers[phone])
        products = {p.name: p for p in s.scalars(select(m.Product))}
        for name, price, stock, description in PRODUCTS:
            if name not in products:
                products[name] = m.Product(name=name, price=Decimal(price), stock=stock,
                                           description=description)
                s.add(products[name])
        existing = set(s.scalars(select(m.Order.number)))
        seen: dict[str, int] = {}
        for i, (number, status, owner, items) in enumerate(ORDERS):
            k = seen[status] = seen.get(status, -1) + 1
            if number in existing:
                continue
            order = m.Order(number=number, status=status, customer=customers["+1555123" + owner],
                            **_order_dates(status, today, k))
            if order.shipped_on is not None:
                order.carrier = CARRIERS[i % len(CARRIERS)]
                order.tracking = _tracking(order.carrier, number)
            order.items = [m.OrderItem(product=products[p], quantity=q, unit_price=products[p].price)
                           for p, q in items]
            s.add(order)
        s.flush()  # the orders get their ids: the tickets below point at them
        for category, text, order_number in TICKETS:
            if not s.scalar(select(exists().where(m.Ticket.category == category, m.Ticket.text == text))):
                store._insert_ticket(s, category, text, None, order_number, None)
