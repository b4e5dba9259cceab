"""Who handles what: the one place to read to know what a message sets off.

- A command has exactly one handler; its error is the command's outcome. The handlers'
  table stands beside them, in `domain.handlers.COMMAND_HANDLERS`, so a new command's
  handler is written in one place.
- In-transaction subscribers run inside the command's transaction: use them for what
  must be atomic with the command (the customer's notification row).
- After-commit subscribers run later, delivered from the outbox by the relay process,
  each at its own position, retried on its own with backoff, parked after repeated
  failures, and applied at most once per event: use them for side effects that may fail
  without undoing the command (a read model, a mail, a call to another service).
"""

from collections.abc import Callable

from domain import events
from domain.handlers import COMMAND_HANDLERS, create_customer_notification
from orderwire import subscribers

__all__ = ["AFTER_COMMIT_SUBSCRIBERS", "COMMAND_HANDLERS", "IN_TRANSACTION_SUBSCRIBERS"]

# Every order event, whatever it is, becomes the customer's notification.
IN_TRANSACTION_SUBSCRIBERS: dict[type[events.Event], list[Callable[..., None]]] = {
    event_type: [create_customer_notification] for event_type in events.ORDER_EVENTS
}

# Keyed by event type name, because these run from the stored envelope, in another process.
# A subscriber's function name is its identity (its position, its parked events): keep it.
AFTER_COMMIT_SUBSCRIBERS: dict[str, list[subscribers.Subscriber]] = {
    "OrderPaid": [subscribers.add_to_sales_ledger],
    "OrderCancelled": [subscribers.remove_from_sales_ledger],
}
