"""Who handles what: the one table to read to know what a message sets off.

- A command has exactly one handler; its error is the command's outcome.
- In-transaction subscribers run inside the command's transaction: use them for what
  must be atomic with the command (the customer's notification row).
- After-commit subscribers run later, delivered from the outbox by the relay process,
  each at its own position, retried on its own with backoff, parked after repeated
  failures, and applied at most once per event: use them for side effects that may fail
  without undoing the command (a read model, a mail, a call to another service).
"""

from collections.abc import Callable
from typing import Any

from domain import events
from domain.commands import CancelOrder, Command, PayOrder, PlaceOrder, ShipOrder
from domain.handlers import (
    cancel_order,
    create_customer_notification,
    pay_order,
    place_order,
    ship_order,
)
from orderwire import subscribers

COMMAND_HANDLERS: dict[type[Command], Callable[..., dict[str, Any]]] = {
    PlaceOrder: place_order,
    PayOrder: pay_order,
    ShipOrder: ship_order,
    CancelOrder: cancel_order,
}

IN_TRANSACTION_SUBSCRIBERS: dict[type[events.Event], list[Callable[..., None]]] = {
    events.OrderPlaced: [create_customer_notification],
    events.OrderPaid: [create_customer_notification],
    events.OrderShipped: [create_customer_notification],
    events.OrderCancelled: [create_customer_notification],
}

# Keyed by event type name, because these run from the stored envelope, in another process.
# A subscriber's function name is its identity (its position, its parked events): keep it.
AFTER_COMMIT_SUBSCRIBERS: dict[str, list[subscribers.Subscriber]] = {
    "OrderPaid": [subscribers.add_to_sales_ledger],
    "OrderCancelled": [subscribers.remove_from_sales_ledger],
}
