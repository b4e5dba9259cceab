"""Retention on the real databases: what is published or finished and older than the
retention period goes, in small batches; what is still owed stays, whatever its age."""

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, func, insert, select, update

from orderwire.bootstrap import Orderwire
from orderwire.command_status import CommandStatus
from orderwire.db.engine import utcnow
from orderwire.db.retention import Retention
from orderwire.db.tables import commands, events, parked_deliveries, subscriber_positions
from tests.integration.delivery_helpers import caught_up
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
                connection.execute(delete(events).where(events.c.event_id == some_id))
            elif kind == "subscriber":
                connection.execute(
                    delete(parked_deliveries).where(parked_deliveries.c.subscriber == some_id)
                )
                connection.execute(
                    delete(subscriber_positions).where(subscriber_positions.c.subscriber == some_id)
                )
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
    _created.append((engine, "event", event_id))
    return event_id


def seq_of(engine: Engine, event_id: str) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(events.c.seq).where(events.c.event_id == event_id)
        ).scalar_one()


def a_subscriber_at(engine: Engine, event_id: str, *, parked: tuple[str, ...] = ()) -> str:
    """An after-commit subscriber whose position is that event, with these events parked."""
    name = f"ledger_{uuid.uuid4().hex[:8]}"
    now = utcnow()
    seqs = {some_id: seq_of(engine, some_id) for some_id in (event_id, *parked)}
    with engine.begin() as connection:
        connection.execute(insert(subscriber_positions), {
            "subscriber": name, "position": seqs[event_id], "failures": 0, "updated_at": now,
        })
        for parked_id in parked:
            connection.execute(insert(parked_deliveries), {
                "subscriber": name, "event_id": parked_id, "seq": seqs[parked_id],
                "attempts": 10, "last_error": "RuntimeError: down", "parked_at": now,
            })
    _created.append((engine, "subscriber", name))
    return name


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
    assert existing_commands(engine, command_ids) == {fresh_done, old_unfinished}


def test_events_a_subscriber_has_not_passed_or_has_parked_stay_however_old(
    engine: Engine,
) -> None:
    passed, parked, at_position, ahead = (an_event(engine, published_days_ago=9) for _ in "1234")
    subscriber = a_subscriber_at(engine, at_position, parked=(parked,))

    Retention(engine, keep=WEEK, subscribers=[subscriber], batch_size=100_000).prune()

    # The event at the position stays too: SQLite hands out max(seq) + 1, and must never
    # hand a subscriber's position out again.
    assert existing_events(engine, [passed, parked, at_position, ahead]) == {
        parked, at_position, ahead,
    }


def test_a_subscriber_the_relay_has_not_started_yet_keeps_every_event(engine: Engine) -> None:
    old = an_event(engine, published_days_ago=9)

    Retention(engine, keep=WEEK, subscribers=["not_started_yet"], batch_size=100_000).prune()

    assert existing_events(engine, [old]) == {old}


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


def test_the_relay_process_prunes_on_its_own(services: Orderwire) -> None:
    import threading

    from orderwire.relay_process import run_relay
    from tools.harness.waiting import wait_for

    # The registry's subscribers (shared by the session's tests on PostgreSQL) start caught
    # up, then pass this test's events.
    caught_up(services.engine, *services.subscriptions)
    old = an_event(services.engine, published_days_ago=8)
    # The after-commit subscribers' newest event always stays (see above): not this one.
    an_event(services.engine, published_days_ago=0)
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
