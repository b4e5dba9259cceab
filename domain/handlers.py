"""Command handlers and in-transaction subscribers: plain functions, one domain call each.

A handler loads one aggregate, asks it to do one thing and returns the command's
result. Everything around that (logging, idempotency, transactions, retries) is
the pipeline's job, not the handler's.
"""

import uuid
from collections.abc import Callable
from typing import Any

from domain.commands import CancelOrder, Command, PayOrder, PlaceOrder, ShipOrder
from domain.errors import OrderAlreadyExists, OrderNotFound
from domain.events import RecordedEvent
from domain.notification import Notification, notification_text
from domain.order import Order
from domain.ports import CommandContext, UnitOfWork


def _load(uow: UnitOfWork, order_id: str, context: CommandContext) -> Order:
    """The order, if the command's session may act on it. Another session's order is "not
    found", exactly as one that does not exist (the web checks this too; this holds even
    for a command that reached the log another way)."""
    order = uow.orders.get(order_id)
    if order is None or not _owned_by(order, context):
        raise OrderNotFound(f"there is no order {order_id}")
    return order


def _owned_by(order: Order, context: CommandContext) -> bool:
    # Without a session on either side (an operator's or a test's command) nothing to check.
    return order.owner_session is None or context.session_id in (None, order.owner_session)


def _outcome(order: Order) -> dict[str, Any]:
    return {"order_id": order.order_id, "status": str(order.status), "version": order.version}


def place_order(command: PlaceOrder, uow: UnitOfWork, context: CommandContext) -> dict[str, Any]:
    if uow.orders.get(command.order_id) is not None:
        raise OrderAlreadyExists(f"order {command.order_id} already exists")
    order = Order.place(
        command.order_id, command.customer_name, command.lines, owner_session=context.session_id
    )
    uow.orders.add(order)
    return _outcome(order)


def pay_order(command: PayOrder, uow: UnitOfWork, context: CommandContext) -> dict[str, Any]:
    order = _load(uow, command.order_id, context)
    order.pay()
    return _outcome(order)


def ship_order(command: ShipOrder, uow: UnitOfWork, context: CommandContext) -> dict[str, Any]:
    order = _load(uow, command.order_id, context)
    order.ship()
    return _outcome(order)


def cancel_order(command: CancelOrder, uow: UnitOfWork, context: CommandContext) -> dict[str, Any]:
    order = _load(uow, command.order_id, context)
    order.cancel(command.reason)
    return _outcome(order)


# Each command's one handler, beside the functions (orderwire/registry.py reads it from here).
COMMAND_HANDLERS: dict[type[Command], Callable[..., dict[str, Any]]] = {
    PlaceOrder: place_order,
    PayOrder: pay_order,
    ShipOrder: ship_order,
    CancelOrder: cancel_order,
}


def create_customer_notification(recorded: RecordedEvent, uow: UnitOfWork) -> None:
    """Subscriber, atomic with the command: every order event becomes a notification row."""
    notification = Notification.create(
        str(uuid.uuid4()), recorded.aggregate_id, notification_text(recorded.event)
    )
    uow.notifications.add(notification)
