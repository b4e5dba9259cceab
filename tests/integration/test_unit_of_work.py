"""The unit of work's command log and outbox on the real databases (SQLite and PostgreSQL),
the attempt counter on a real Redis, and the sweeper's use of it."""

import time
import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import Engine

from domain.events import OrderShipped
from orderwire.attempt_counter import ATTEMPTS_PREFIX, RedisAttemptCounter
from orderwire.command_status import CommandStatus
from orderwire.db.unit_of_work import SqlAlchemyUnitOfWork
from orderwire.sweeper import CommandSweeper
from tests.payloads import a_key, place_order_payload
from tests.recorded_commands import record_command, recorded_command, stored_events

pytestmark = pytest.mark.integration


def test_lock_start_finish_and_append_commit_together(engine: Engine) -> None:
    request_id = record_command(engine, "PlaceOrder", place_order_payload(), session_id="s-1")

    with SqlAlchemyUnitOfWork(engine) as uow:
        record = uow.commands.lock(request_id)
        assert record is not None and record["status"] == "accepted"
        uow.commands.start(request_id, 2)
        stored = uow.outbox.append(
            OrderShipped(order_id="o"), aggregate_id=str(uuid.uuid4()), aggregate_version=1,
            request_id=request_id, audience=["s-1"],
        )
        assert uow.commands.finish(request_id, CommandStatus.SUCCEEDED, result={"ok": True})
        assert [event.event_id for event in uow.outbox.appended] == [stored.event_id]
        uow.commit()

    row = recorded_command(engine, request_id)
    assert (row["status"], row["attempts"], row["result"]) == ("succeeded", 2, {"ok": True})
    assert [event["id"] for event in stored_events(engine, request_id=request_id)] == [
        stored.event_id
    ]


def test_a_unit_of_work_left_without_commit_leaves_nothing(engine: Engine) -> None:
    request_id = record_command(engine, "PlaceOrder", place_order_payload())

    with SqlAlchemyUnitOfWork(engine) as uow:
        uow.commands.lock(request_id)
        uow.commands.start(request_id, 1)
        uow.outbox.append(OrderShipped(order_id="o"), aggregate_id=str(uuid.uuid4()),
                          aggregate_version=1,
                          request_id=request_id, audience=[])

    row = recorded_command(engine, request_id)
    assert (row["status"], row["attempts"]) == ("accepted", 0)
    assert stored_events(engine, request_id=request_id) == []


def test_finish_never_overwrites_a_final_status_and_can_record_the_attempts(
    engine: Engine,
) -> None:
    request_id = record_command(engine, "PlaceOrder", place_order_payload())
    with SqlAlchemyUnitOfWork(engine) as uow:
        assert uow.commands.finish(
            request_id, CommandStatus.FAILED, error={"code": "x", "message": "y"}, attempts=3
        )
        assert not uow.commands.finish(request_id, CommandStatus.SUCCEEDED, attempts=9)
        uow.commands.start(request_id, 7)  # a final command is not started again either
        uow.commit()

    row = recorded_command(engine, request_id)
    assert (row["status"], row["attempts"]) == ("failed", 3)


def test_locking_a_command_that_was_never_recorded_finds_nothing(engine: Engine) -> None:
    with SqlAlchemyUnitOfWork(engine) as uow:
        assert uow.commands.lock("never-recorded") is None


def test_the_attempt_counter_counts_per_command_and_forgets_after_its_ttl(
    redis_client: redis.Redis,
) -> None:
    counter = RedisAttemptCounter(redis_client, ttl_seconds=60)
    first, second = a_key("r"), a_key("r")

    assert [counter(first), counter(first), counter(second)] == [1, 2, 1]
    assert 0 < redis_client.ttl(ATTEMPTS_PREFIX + first) <= 60


def test_the_attempt_counter_tells_which_commands_started_an_attempt_since(
    redis_client: redis.Redis,
) -> None:
    counter = RedisAttemptCounter(redis_client, ttl_seconds=60)
    before = time.time() - 1
    attempted, idle = a_key("r"), a_key("r")
    counter(attempted)

    assert counter.started_since([attempted, idle], before) == {attempted}
    assert counter.started_since([attempted, idle], time.time() + 1) == set()
    assert counter.started_since([], before) == set()


def test_an_unreachable_counter_raises_within_its_timeout(redis_client: redis.Redis) -> None:
    from orderwire.local_redis import free_port

    down = redis.Redis(port=free_port())
    counter = RedisAttemptCounter(down, ttl_seconds=60, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        counter("r-1")
    assert time.monotonic() - started < 5


def test_the_sweeper_sends_no_copy_of_a_command_whose_attempt_is_under_way(
    engine: Engine, redis_client: redis.Redis
) -> None:
    counter = RedisAttemptCounter(redis_client, ttl_seconds=60)
    live = record_command(engine, "PlaceOrder", place_order_payload())
    dropped = record_command(engine, "PlaceOrder", place_order_payload())
    counter(live)  # a worker is running it: its status commits only with its outcome
    sent: list[str] = []
    sweeper = CommandSweeper(
        engine,
        lambda _command, _request_id, command_id: sent.append(command_id),
        accepted_after=timedelta(0),
        running_after=timedelta(seconds=60),
        attempted_since=counter.started_since,
        batch_size=10_000,
    )

    sweeper.sweep()

    assert dropped in sent and live not in sent
