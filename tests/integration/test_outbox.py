"""The transactional outbox on a real database (SQLite and PostgreSQL) and a real Redis: every
event is stored with its command, published right after commit when Redis is up, and published
later by the relay when it was not, at least once. Per-order order: test_outbox_order.py."""

import json
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from redis.client import Pipeline
from sqlalchemy import Engine, update

from domain.events import OrderShipped
from orderwire import registry
from orderwire.db.engine import utcnow
from orderwire.db.tables import events
from orderwire.outbox import store as outbox
from orderwire.outbox.keys import session_stream
from orderwire.outbox.publisher import RedisEventPublisher
from orderwire.outbox.relay import OutboxRelay
from orderwire.pipeline.retries import RetryPolicy
from tests.integration.event_helpers import (
    HangingRedis,
    a_session,
    closed_redis_url,
    orderwire_on,
    place,
    publication,
    publish_backlog_until_published,
    relay_now,
    relay_process,
    run_command,
    unpublished_ids,
)
from tests.payloads import a_key, place_order_payload
from tests.recorded_commands import record_command, recorded_command, stored_events
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.integration


def backdate(engine: Engine, ids: list[str], by: timedelta = timedelta(minutes=1)) -> None:
    """Make events look older than the relay process's grace period."""
    with engine.begin() as connection:
        connection.execute(
            update(events).where(events.c.event_id.in_(ids)).values(occurred_at=utcnow() - by)
        )


# --- written with the command --------------------------------------------------------------


def test_every_event_of_a_command_is_stored_with_the_command(
    engine: Engine, database_url: str, redis_server
) -> None:
    services, session = orderwire_on(engine, database_url, redis_server.url), a_session()
    order_id = str(uuid.uuid4())
    payload = place_order_payload(order_id)
    request_id = record_command(engine, "PlaceOrder", payload, session_id=session)

    outcome = services.execute(request_id)

    stored = stored_events(engine, command_id=request_id)
    assert outcome.status == "succeeded"
    assert [event["type"] for event in stored] == ["OrderPlaced", "NotificationCreated"]
    assert outcome.event_ids == [event["id"] for event in stored]
    placed, note = stored
    assert (placed["aggregate_id"], placed["aggregate_version"]) == (order_id, 1)
    assert (note["aggregate_id"], note["aggregate_version"]) == (note["data"]["notification_id"], 1)
    assert all(event["request_id"] == recorded_command(engine, request_id)["request_id"]
               for event in stored)
    assert all(event["audience"] == [session] for event in stored)


def test_a_command_that_does_not_commit_leaves_none_of_its_events(
    engine: Engine, database_url: str, redis_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERWIRE_FAULTS", "transaction.before_commit=raise")
    services = orderwire_on(
        engine, database_url, redis_server.url, retry_policy=RetryPolicy(max_attempts=1)
    )
    order_id = str(uuid.uuid4())
    request_id = record_command(engine, "PlaceOrder", place_order_payload(order_id))

    outcome = services.execute(request_id)

    assert outcome.status == "failed"
    [failed] = stored_events(engine, command_id=request_id)
    assert failed["type"] == "CommandFailed"
    assert (failed["aggregate_id"], failed["aggregate_version"]) == (request_id, 1)
    assert stored_events(engine, aggregate_id=order_id) == []


def test_a_rejection_is_stored_as_version_1_of_its_command(
    engine: Engine, database_url: str, redis_server
) -> None:
    services = orderwire_on(engine, database_url, redis_server.url)
    missing_order = str(uuid.uuid4())
    request_id = record_command(engine, "PayOrder", {"order_id": missing_order})
    outcome = services.execute(request_id)
    assert outcome.status == "rejected"
    [rejected] = stored_events(engine, command_id=request_id)
    assert rejected["type"] == "CommandRejected" and outcome.event_ids == [rejected["id"]]
    assert (rejected["aggregate_id"], rejected["aggregate_version"]) == (request_id, 1)
    assert rejected["data"] == {
        "command": "PayOrder",
        "code": "order_not_found",
        "message": f"there is no order {missing_order}",
        "order_id": missing_order,
    }


# --- the fast path ---------------------------------------------------------------------------


def test_the_fast_path_publishes_right_after_commit_and_the_relay_marks_the_events(
    engine: Engine, database_url: str, redis_server, redis_client: redis.Redis, listener
) -> None:
    services, session = orderwire_on(engine, database_url, redis_server.url), a_session()

    order_id, ids = place(services, session)

    received = listener.wait_for_ids(set(ids))
    stored = stored_events(engine, aggregate_id=order_id)[0]
    [placed] = [envelope for envelope in received if envelope["aggregate_id"] == order_id]
    assert placed == {key: value for key, value in stored.items() if key != "audience"}
    # Marking is off the command's path: the relay marks what the publishing script listed.
    wait_for(
        lambda: services.relay.mark_confirmed() >= 0
        and publication(engine, ids) == {event_id: True for event_id in ids},
        timeout=20,
        what="the relay to mark the published events",
    )
    relay_now(services).publish_backlog()  # marked, so the relay leaves them alone
    assert all(listener.ids().count(event_id) == 1 for event_id in ids)
    assert redis_client.xlen(session_stream(session)) == 2


def test_an_event_the_script_listed_but_the_relay_did_not_mark_yet_is_marked_not_published_again(
    engine: Engine, database_url: str, redis_server, listener
) -> None:
    # The relay marks the listed ids every half second, so its claim (here with no grace:
    # as if the command's transaction had committed long after inserting its events) can
    # meet an event the fast path published and listed, still unmarked.
    services, session = orderwire_on(engine, database_url, redis_server.url), a_session()
    relay = relay_now(services)
    relay.publish_backlog()  # marks what is listed now; the next marks are half a second away

    _, ids = place(services, session)
    listener.wait_for_ids(set(ids))
    publish_backlog_until_published(relay, engine, ids)
    _, later = place(services, session)  # received after any copy the relay sent
    listener.wait_for_ids(set(later))

    assert all(listener.ids().count(event_id) == 1 for event_id in ids)


def test_published_after_commit_events_go_to_their_type_channel(
    engine: Engine, database_url: str, redis_server, redis_client: redis.Redis
) -> None:
    services = orderwire_on(engine, database_url, redis_server.url)
    pubsub = redis_client.pubsub()
    pubsub.subscribe("orderwire.events.OrderPlaced")
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    try:
        _, ids = place(services, a_session())
        message = wait_for(lambda: pubsub.get_message(timeout=1), timeout=10, what="OrderPlaced")
        assert message["channel"] == b"orderwire.events.OrderPlaced"
        assert json.loads(message["data"])["id"] == ids[0]
    finally:
        pubsub.close()


# --- Redis down, then the relay ---------------------------------------------------------------


def test_with_redis_down_the_command_succeeds_and_its_events_wait_for_the_relay(
    engine: Engine, database_url: str, redis_server, listener
) -> None:
    down = orderwire_on(engine, database_url, closed_redis_url())
    _, ids = place(down, a_session())

    assert publication(engine, ids) == {event_id: False for event_id in ids}
    assert set(ids) <= set(unpublished_ids(engine))

    up = orderwire_on(engine, database_url, redis_server.url)
    publish_backlog_until_published(relay_now(up), engine, ids)

    received = listener.wait_for_ids(set(ids))
    assert [e["type"] for e in received if e["id"] in ids] == ["OrderPlaced", "NotificationCreated"]


def test_the_relay_process_leaves_fresh_events_to_the_fast_path_for_a_grace_period(
    engine: Engine, database_url: str
) -> None:
    down = orderwire_on(engine, database_url, closed_redis_url())
    _, ids = place(down, a_session())
    relay = OutboxRelay(engine, lambda batch: [], grace=timedelta(minutes=5))
    relay.publish_backlog()
    assert publication(engine, ids) == {event_id: False for event_id in ids}


def test_a_relay_that_cannot_reach_redis_marks_nothing(engine: Engine, database_url: str) -> None:
    down = orderwire_on(engine, database_url, closed_redis_url())
    _, ids = place(down, a_session())
    with pytest.raises(redis.ConnectionError):
        relay_now(down).publish_backlog()
    assert publication(engine, ids) == {event_id: False for event_id in ids}


def test_a_relay_killed_between_publishing_and_marking_publishes_again_and_loses_nothing(
    engine: Engine,
    database_url: str,
    redis_server,
    redis_client: redis.Redis,
    listener,
    tmp_path: Path,
) -> None:
    down, session = orderwire_on(engine, database_url, closed_redis_url()), a_session()
    ids = [event_id for _ in range(2) for event_id in place(down, session)[1]]
    backdate(engine, ids)

    crashing = relay_process(
        database_url, redis_server.url, tmp_path / "relay.log", "relay.after_publish=crash"
    )
    assert crashing.wait(timeout=60) == 137, (tmp_path / "relay.log").read_text()
    listener.wait_for_ids(set(ids))
    assert publication(engine, ids) == {event_id: False for event_id in ids}

    healthy = relay_process(database_url, redis_server.url, tmp_path / "relay.log")
    try:
        wait_for(lambda: all(publication(engine, ids).values()), timeout=60, what="the relay")
    finally:
        healthy.terminate()
        assert healthy.wait(timeout=30) == 0

    listener.wait_for_copies(set(ids), copies=2)
    assert all(listener.ids().count(event_id) == 2 for event_id in ids)
    # The session's history keeps one entry per event although each was published twice.
    assert redis_client.xlen(session_stream(session)) == len(ids)


def test_a_hanging_redis_does_not_keep_other_commands_from_committing(
    engine: Engine, database_url: str, redis_server
) -> None:
    hanging = HangingRedis()
    stuck = orderwire_on(engine, database_url, hanging.url, redis_timeout=120)
    other = orderwire_on(engine, database_url, redis_server.url)
    stuck_ids: list[str] = []
    committed = threading.Event()
    first = threading.Thread(target=lambda: stuck_ids.extend(place(stuck, a_session())[1]))

    def place_another() -> None:
        place(other, a_session())
        committed.set()

    second = threading.Thread(target=place_another)
    first.start()
    try:
        assert hanging.connected.wait(30), "the fast path never reached Redis"
        second.start()  # while the first command's fast path waits for Redis to answer
        assert committed.wait(30), "another command could not commit meanwhile"
    finally:
        hanging.release()
        first.join(60)
        if second.ident:
            second.join(60)
    assert len(stuck_ids) == 2
    assert publication(engine, stuck_ids) == {event_id: False for event_id in stuck_ids}


# --- Redis side --------------------------------------------------------------------------------


def test_publishing_an_event_twice_appends_it_once_to_each_session_stream(
    engine: Engine, redis_client: redis.Redis, listener
) -> None:
    first, second = a_session(), a_session()
    with engine.begin() as connection:
        event = outbox.SqlOutbox(connection).append(
            OrderShipped(order_id="o"), aggregate_id=str(uuid.uuid4()),
            aggregate_version=1, request_id="r", audience=[first, second],
        )
    publisher = RedisEventPublisher(redis_client)
    publisher.publish([event])
    publisher.publish([event])

    assert redis_client.xlen(session_stream(first)) == 1
    assert redis_client.xlen(session_stream(second)) == 1
    listener.wait_for_copies({event.event_id}, copies=2)


def test_a_redis_that_forgot_the_publish_script_is_taught_it_again(
    engine: Engine, redis_client: redis.Redis, listener
) -> None:
    session = a_session()
    with engine.begin() as connection:
        event = outbox.SqlOutbox(connection).append(
            OrderShipped(order_id="o"), aggregate_id=str(uuid.uuid4()),
            aggregate_version=1, request_id="r", audience=[session],
        )
    redis_client.script_flush()  # what a restarted Redis knows: no scripts
    counter = a_key("published")

    def count(pipe: Pipeline) -> None:
        pipe.incr(counter)

    RedisEventPublisher(redis_client).publish([event], also=count)

    assert redis_client.xlen(session_stream(session)) == 1
    listener.wait_for_copies({event.event_id}, copies=1)
    assert redis_client.get(counter) == b"1"  # what rides along is sent once, not per try


def test_publishing_an_event_with_after_commit_subscribers_sends_no_celery_task(
    engine: Engine, database_url: str, redis_server, redis_client: redis.Redis
) -> None:
    # The relay delivers them from the outbox (orderwire/outbox/deliveries/): a PayOrder
    # costs its one command task and nothing more.
    services = orderwire_on(
        engine, database_url, redis_server.url,
        after_commit_subscribers=registry.AFTER_COMMIT_SUBSCRIBERS,
    )
    session = a_session()
    order_id, _ = place(services, session)
    queued_before = redis_client.llen("celery")
    paid = run_command(services, "PayOrder", {"order_id": order_id}, session)

    assert paid.status == "succeeded"
    # Published by the fast path (the place's two events, then the payment's two)...
    assert redis_client.xlen(session_stream(session)) == 4
    # ...and nothing sent to Celery for the sales ledger's subscriber.
    assert redis_client.llen("celery") == queued_before
