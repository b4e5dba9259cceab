"""Retention on the real databases: what is published or finished and older than the
retention period goes, in small batches; what is still owed stays, whatever its age."""

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, func, insert, select, update

from orderwire.command_status import CommandStatus
from orderwire.db.engine import utcnow
from orderwire.db.retention import Retention
from orderwire.db.tables import commands, events, handled_events
from tests.payloads import place_order_payload
from tests.recorded_commands import record_command

pytestmark = pytest.mark.integration

WEEK = timedelta(days=7)

# What these tests insert, removed after each one: on PostgreSQL the tables are shared with
# the other tests, whose relays and feed rebuilds must not meet these bare rows.
_created: list[tuple[Engine, str, str]] = []


@pytest.fixture(autouse=True)
def _remove_what_the_test_inserted() -> Iterator[None]:
    yield
    while _created:
        engine, kind, some_id = _created.pop()
        with engine.begin() as connection:
            if kind == "event":
                connection.execute(
                    delete(handled_events).where(handled_events.c.event_id == some_id)
                )
                connection.execute(delete(events).where(events.c.event_id == some_id))
            else:
                connection.execute(delete(commands).where(commands.c.command_id == some_id))


def an_event(engine: Engine, *, published_days_ago: float | None) -> str:
    event_id = str(uuid.uuid4())
    now = utcnow()
    published = None if published_days_ago is None else now - timedelta(days=published_days_ago)
    with engine.begin() as connection:
        connection.execute(insert(events), {
            "event_id": event_id, "type": "OrderPlaced", "aggregate_id": str(uuid.uuid4()),
            "aggregate_version": 1, "request_id": None, "audience": [], "envelope": "{}",
            "occurred_at": published or now, "published_at": published,
        })
        connection.execute(insert(handled_events), {
            "event_id": event_id, "subscriber": "add_to_sales_ledger", "handled_at": now,
        })
    _created.append((engine, "event", event_id))
    return event_id


def a_command(engine: Engine, status: CommandStatus, *, days_ago: float) -> str:
    command_id = record_command(engine, "PlaceOrder", place_order_payload())
    with engine.begin() as connection:
        connection.execute(
            update(commands).where(commands.c.command_id == command_id).values(
                status=status, touched_at=utcnow() - timedelta(days=days_ago)
            )
        )
    _created.append((engine, "command", command_id))
    return command_id


def existing_events(engine: Engine, ids: list[str]) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(
            select(events.c.event_id).where(events.c.event_id.in_(ids))).scalars())


def handled(engine: Engine, ids: list[str]) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(
            select(handled_events.c.event_id).where(handled_events.c.event_id.in_(ids))
        ).scalars())


def existing_commands(engine: Engine, ids: list[str]) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(
            select(commands.c.command_id).where(commands.c.command_id.in_(ids))).scalars())


def test_published_events_and_finished_commands_past_retention_go_and_the_rest_stays(
    engine: Engine,
) -> None:
    old_published = an_event(engine, published_days_ago=8)
    fresh_published = an_event(engine, published_days_ago=1)
    old_unpublished = an_event(engine, published_days_ago=None)
    old_done = a_command(engine, CommandStatus.SUCCEEDED, days_ago=8)
    old_failed = a_command(engine, CommandStatus.FAILED, days_ago=30)
    fresh_done = a_command(engine, CommandStatus.SUCCEEDED, days_ago=1)
    old_unfinished = a_command(engine, CommandStatus.ACCEPTED, days_ago=30)
    event_ids = [old_published, fresh_published, old_unpublished]
    command_ids = [old_done, old_failed, fresh_done, old_unfinished]

    Retention(engine, keep=WEEK, batch_size=100_000).prune()

    assert existing_events(engine, event_ids) == {fresh_published, old_unpublished}
    assert handled(engine, event_ids) == {fresh_published, old_unpublished}
    assert existing_commands(engine, command_ids) == {fresh_done, old_unfinished}


def test_one_run_deletes_at_most_its_batches(engine: Engine) -> None:
    old = [an_event(engine, published_days_ago=8 + i) for i in range(5)]
    # Other tests' rows may share a PostgreSQL schema: only count this test's.
    with engine.connect() as connection:
        before = connection.execute(select(func.count()).select_from(events)).scalar_one()

    deleted = Retention(engine, keep=WEEK, batch_size=2, max_batches=1, pause=0).prune()

    with engine.connect() as connection:
        after = connection.execute(select(func.count()).select_from(events)).scalar_one()
    assert before - after <= 2 and deleted <= 4  # one batch of events, one of commands
    assert len(existing_events(engine, old)) >= 3


def test_the_relay_process_prunes_on_its_own(services) -> None:  # type: ignore[no-untyped-def]
    import threading

    from orderwire.relay_process import run_relay
    from tools.harness.waiting import wait_for

    old = an_event(services.engine, published_days_ago=8)
    old_command = a_command(services.engine, CommandStatus.SUCCEEDED, days_ago=8)
    stop = threading.Event()
    relay = threading.Thread(target=run_relay, args=(services,), kwargs={"stop": stop})
    relay.start()
    try:
        wait_for(
            lambda: not existing_events(services.engine, [old])
            and not existing_commands(services.engine, [old_command]),
            timeout=30,
            what="the relay's retention job",
        )
    finally:
        stop.set()
        relay.join(30)
