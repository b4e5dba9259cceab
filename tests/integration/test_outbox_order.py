"""Per-order order on a real database (SQLite and PostgreSQL) and a real Redis: the fast path
never overtakes an earlier unpublished event of the same order, and the relay never skips a
transaction that took its seq early and committed late."""

import uuid

import pytest
from sqlalchemy import Connection, Engine, select, update

from domain.events import OrderShipped
from orderwire.db.tables import events
from orderwire.outbox import store as outbox
from tests.integration.event_helpers import (
    a_session,
    closed_redis_url,
    orderwire_on,
    place,
    publication,
    publish_backlog_until_published,
    relay_now,
    run_command,
)

pytestmark = pytest.mark.integration


def test_the_fast_path_defers_to_the_relay_while_an_earlier_event_of_the_order_waits(
    engine: Engine, database_url: str, redis_server, listener
) -> None:
    up, down, session = (
        orderwire_on(engine, database_url, redis_server.url),
        orderwire_on(engine, database_url, closed_redis_url()),
        a_session(),
    )
    order_id, _ = place(up, session)
    paid = run_command(down, "PayOrder", {"order_id": order_id}, session)
    shipped = run_command(up, "ShipOrder", {"order_id": order_id}, session)
    assert paid.status == shipped.status == "succeeded"

    order_paid, paid_note = paid.event_ids
    order_shipped, shipped_note = shipped.event_ids
    # The notification is its own aggregate with nothing waiting: the fast path sent it.
    listener.wait_for_ids({shipped_note})
    while up.relay.mark_confirmed():  # the relay's first step: mark what the script listed
        pass
    assert publication(engine, shipped.event_ids) == {order_shipped: False, shipped_note: True}
    assert order_shipped not in listener.ids()

    publish_backlog_until_published(relay_now(up), engine, [order_paid, paid_note, order_shipped])
    listener.wait_for_ids({order_paid, order_shipped})
    versions = [e["aggregate_version"] for e in listener.received if e["aggregate_id"] == order_id]
    assert versions == [1, 2, 3]


def _insert_event(connection: Connection, *, seq: int, aggregate_id: str, version: int) -> str:
    stored = outbox.SqlOutbox(connection).append(
        OrderShipped(order_id=aggregate_id),
        aggregate_id=aggregate_id,
        aggregate_version=version,
        request_id=None,
        audience=[],
    )
    connection.execute(update(events).where(events.c.event_id == stored.event_id).values(seq=seq))
    return stored.event_id


def test_an_event_committed_late_with_a_lower_seq_is_still_published(
    engine: Engine, database_url: str, redis_server, listener
) -> None:
    relay = relay_now(orderwire_on(engine, database_url, redis_server.url))
    base = 10**12 + uuid.uuid4().int % 10**9  # far above anything the sequence hands out
    with engine.begin() as connection:
        later = _insert_event(connection, seq=base + 2, aggregate_id=str(uuid.uuid4()), version=1)
    publish_backlog_until_published(relay, engine, [later])

    with engine.begin() as connection:  # committed now, but numbered before `later`
        earlier = _insert_event(connection, seq=base + 1, aggregate_id=str(uuid.uuid4()), version=1)
    publish_backlog_until_published(relay, engine, [earlier])

    assert listener.wait_for_ids({later, earlier})
    with engine.connect() as connection:
        seqs = dict(
            connection.execute(
                select(events.c.event_id, events.c.seq).where(
                    events.c.event_id.in_([later, earlier])
                )
            ).all()
        )
    assert seqs[earlier] < seqs[later]


def test_a_transaction_that_took_its_seq_first_but_commits_last_is_not_skipped(
    engine: Engine, database_url: str, redis_server, listener
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no transaction can commit out of seq order")
    relay = relay_now(orderwire_on(engine, database_url, redis_server.url))
    with engine.connect() as slow:
        transaction = slow.begin()
        early = outbox.SqlOutbox(slow).append(
            OrderShipped(order_id="x"), aggregate_id=str(uuid.uuid4()),
            aggregate_version=1, request_id=None, audience=[],
        )
        with engine.begin() as fast:
            late = outbox.SqlOutbox(fast).append(
                OrderShipped(order_id="y"), aggregate_id=str(uuid.uuid4()),
                aggregate_version=1, request_id=None, audience=[],
            )
        publish_backlog_until_published(relay, engine, [late.event_id])
        transaction.commit()
    publish_backlog_until_published(relay, engine, [early.event_id])
    listener.wait_for_ids({early.event_id, late.event_id})
