"""Helpers for the subscriber delivery tests: paid orders, the sales ledger's totals (compared
before and after: on PostgreSQL the tests of one session share a schema) and positions."""

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, text

from orderwire.bootstrap import Orderwire
from orderwire.db.engine import is_postgres, utcnow
from orderwire.db.tables import events, parked_deliveries, sales_ledger, subscriber_positions
from orderwire.outbox.deliveries.subscriptions import Subscription
from tests.payloads import place_order_payload
from tests.recorded_commands import record_command


class FlakyUpstream(Exception):
    pass


def paid_order(services: Orderwire) -> tuple[str, str, str]:
    """(order id, the PayOrder's command id, the OrderPaid event id) of a freshly paid order."""
    order_id = str(uuid.uuid4())
    place = record_command(services.engine, "PlaceOrder", place_order_payload(order_id))
    assert services.execute(place).status == "succeeded"
    pay = record_command(services.engine, "PayOrder", {"order_id": order_id})
    outcome = services.execute(pay)
    assert outcome.status == "succeeded"
    return order_id, pay, outcome.event_ids[0]


def ledger(engine: Engine) -> tuple[int, Decimal]:
    """(orders paid, revenue) over all days: tests compare it before and after, because on
    PostgreSQL the tests of one session share a schema."""
    with engine.connect() as connection:
        rows = connection.execute(select(sales_ledger.c.orders_paid, sales_ledger.c.revenue)).all()
    return sum(orders for orders, _ in rows), sum((Decimal(r) for _, r in rows), Decimal("0"))


def booked_since(engine: Engine, before: tuple[int, Decimal]) -> tuple[int, Decimal]:
    orders, revenue = ledger(engine)
    return orders - before[0], revenue - before[1]


def newest_seq(engine: Engine) -> int:
    """The last seq handed out, rolled back or not (PostgreSQL's sequence may be ahead of
    every row): a subscriber placed there meets no gap left by an earlier test."""
    with engine.connect() as connection:
        if is_postgres(engine):
            return connection.execute(
                text("SELECT COALESCE(last_value, 0) FROM pg_sequences "
                     "WHERE sequencename = 'events_seq_seq' AND schemaname = current_schema()")
            ).scalar_one()
        return connection.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one()


def caught_up(engine: Engine, *subscriptions: Subscription) -> None:
    """Place the subscribers after every event so far (replacing whatever an earlier test of
    the session left under the same name)."""
    at = newest_seq(engine)
    with engine.begin() as connection:
        for subscription in subscriptions:
            connection.execute(delete(parked_deliveries).where(
                parked_deliveries.c.subscriber == subscription.name))
            connection.execute(delete(subscriber_positions).where(
                subscriber_positions.c.subscriber == subscription.name))
            connection.execute(insert(subscriber_positions).values(
                subscriber=subscription.name, position=at, failures=0, updated_at=utcnow()))


def position_of(engine: Engine, name: str) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(
            select(subscriber_positions).where(subscriber_positions.c.subscriber == name)
        ).one()
    return row._asdict()


def seq_of(engine: Engine, event_id: str) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(events.c.seq).where(events.c.event_id == event_id)
        ).scalar_one()
