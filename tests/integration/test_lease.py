"""A worker renews the lease of the commands it runs; a released command is left alone."""

import threading
import time
from datetime import datetime, timedelta

import pytest
import redis
from sqlalchemy import Engine, update

from orderwire.attempt_counter import RedisAttemptCounter
from orderwire.db import command_log
from orderwire.db.clock import database_time
from orderwire.db.tables import commands
from orderwire.pipeline.execution import Execution, Outcome
from orderwire.pipeline.lease import HoldLease
from tests.payloads import place_order_payload
from tests.recorded_commands import record_command, recorded_command
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.integration


def running_since_long_ago(engine: Engine) -> str:
    request_id = record_command(engine, "PlaceOrder", place_order_payload())
    with engine.begin() as connection:
        # Its attempt counted in the log (the attempt counter was unreachable): `running`.
        command_log.SqlCommandLog(connection).start(request_id, 1)
        long_ago = database_time(connection) - timedelta(minutes=5)
        connection.execute(
            update(commands).where(commands.c.command_id == request_id)
            .values(touched_at=long_ago)
        )
    return request_id


def touched(engine: Engine, request_id: str) -> datetime:
    return recorded_command(engine, request_id)["touched_at"]


def test_a_command_being_run_has_its_lease_renewed_until_it_ends(engine: Engine) -> None:
    request_id = running_since_long_ago(engine)
    stale = touched(engine, request_id)
    lease = HoldLease(engine, renew_every=0.1)
    inside, finish = threading.Event(), threading.Event()

    def slow_step(_execution: Execution) -> Outcome:
        inside.set()
        assert finish.wait(30)
        return Outcome("succeeded")

    runner = threading.Thread(target=lease, args=(Execution(request_id), slow_step))
    runner.start()
    assert inside.wait(10)
    wait_for(lambda: touched(engine, request_id) != stale, timeout=10, what="a renewal")
    assert lease.held == [request_id]
    finish.set()
    runner.join(10)

    assert lease.held == []


def test_a_finished_command_s_lease_is_not_renewed(engine: Engine) -> None:
    request_id = running_since_long_ago(engine)
    with engine.begin() as connection:
        command_log.SqlCommandLog(connection).finish(
            request_id, command_log.CommandStatus.SUCCEEDED
        )
        command_log.renew_leases(connection, [request_id])
        done = command_log.get(connection, request_id)
    assert done is not None
    # Only running commands are renewed: the final touch is the finish itself.
    assert done["touched_at"] == done["finished_at"]


def test_a_step_that_raises_still_gives_the_lease_up(engine: Engine) -> None:
    request_id = running_since_long_ago(engine)
    lease = HoldLease(engine, renew_every=60)

    def broken(_execution: Execution) -> Outcome:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        lease(Execution(request_id), broken)
    assert lease.held == []


def test_a_command_being_run_has_its_attempt_kept_under_way_in_the_counter(
    engine: Engine, redis_client: redis.Redis
) -> None:
    """Its `running` status commits only with its outcome, so the lease that the sweeper and
    the status query read while it runs is the attempt counter's start time."""
    command_id = record_command(engine, "PlaceOrder", place_order_payload())
    counter = RedisAttemptCounter(redis_client, ttl_seconds=60)
    counter(command_id)
    started_long_ago = time.time() - 300
    redis_client.hset(f"orderwire:attempts:{command_id}", "started", repr(started_long_ago))
    lease = HoldLease(engine, renew_every=0.1, renew_attempts=counter.renew)
    inside, finish = threading.Event(), threading.Event()

    def slow_step(_execution: Execution) -> Outcome:
        inside.set()
        assert finish.wait(30)
        return Outcome("succeeded")

    runner = threading.Thread(target=lease, args=(Execution(command_id), slow_step))
    runner.start()
    assert inside.wait(10)
    wait_for(lambda: counter.started_since([command_id], time.time() - 5) == {command_id},
             timeout=10, what="a renewal in the counter")
    assert counter.under_way(command_id, time.time() - 5) == 1  # the count is unchanged
    finish.set()
    runner.join(10)
    assert lease.held == []
