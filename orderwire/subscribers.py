"""After-commit subscribers: side effects that may fail on their own.

Each is a plain function of (envelope, connection). The task that runs it
(worker/tasks.py, deliver_event) records (event id, subscriber) in `handled_events`
in the same transaction, so a redelivered event changes nothing.
"""

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, select, update

from orderwire.db.tables import events, sales_ledger

Subscriber = Callable[[dict[str, Any], Connection], None]


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
