"""After-commit subscribers: side effects that may fail on their own.

Each is a plain function of (envelope, connection). The relay's delivery job
(orderwire/outbox/deliveries/delivery.py) runs it in a transaction that also moves the
subscriber's position past the event, so an event is applied at most once. Whatever it
writes through `connection` commits or rolls back with that move.
"""

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, select, update

from orderwire.db.tables import events, sales_ledger
from orderwire.outbox.deliveries.subscriptions import Subscriber

__all__ = ["Subscriber", "add_to_sales_ledger", "remove_from_sales_ledger"]


def _book(connection: Connection, day: str, orders: int, amount: Decimal) -> None:
    changed = connection.execute(
        update(sales_ledger)
        .where(sales_ledger.c.day == day)
        .values(
            orders_paid=sales_ledger.c.orders_paid + orders,
            revenue=sales_ledger.c.revenue + amount,
        )
    )
    if changed.rowcount == 0:
        connection.execute(insert(sales_ledger).values(day=day, orders_paid=orders, revenue=amount))


def add_to_sales_ledger(envelope: dict[str, Any], connection: Connection) -> None:
    """Paid revenue per day, the read model a shop owner looks at."""
    _book(connection, envelope["occurred_at"][:10], 1, Decimal(envelope["data"]["total"]))


def remove_from_sales_ledger(envelope: dict[str, Any], connection: Connection) -> None:
    """A cancelled order that had been paid leaves the ledger (a refund)."""
    paid = connection.execute(
        select(events.c.envelope).where(
            events.c.aggregate_id == envelope["aggregate_id"], events.c.type == "OrderPaid"
        )
    ).scalar_one_or_none()
    if paid is None:
        return
    paid_envelope = json.loads(paid)
    _book(
        connection,
        paid_envelope["occurred_at"][:10],
        -1,
        -Decimal(paid_envelope["data"]["total"]),
    )
