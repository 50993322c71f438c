"""CRM persistence for the voicebot: customers, products, orders, complaint tickets and the call log.

    from crm_store import CrmStore
    store = CrmStore.open("sqlite:///var/voicebot.db")   # creates the file and migrates it to head
"""

from crm_store.models import ORDER_STATUSES, TICKET_CATEGORIES, TICKET_STATUSES
from crm_store.store import DEFAULT_URL, CrmStore
from crm_store.views import (
    CustomerView,
    InteractionView,
    NotFound,
    NotificationView,
    OrderItemView,
    OrderView,
    ProductView,
    TicketView,
    TurnView,
)

__all__ = [
    "DEFAULT_URL",
    "ORDER_STATUSES",
    "TICKET_CATEGORIES",
    "TICKET_STATUSES",
    "CrmStore",
    "CustomerView",
    "InteractionView",
    "NotFound",
    "NotificationView",
    "OrderItemView",
    "OrderView",
    "ProductView",
    "TicketView",
    "TurnView",
]
