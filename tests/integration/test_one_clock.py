"""Stale-command and retention decisions use the database's clock, not the host's.

The hosts' clocks are moved with time-machine (it moves Python's clocks only); the
database keeps the real time: PostgreSQL as a server, SQLite through its own C clock.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import Engine, update

from orderwire.db.clock import database_time
from orderwire.db.tables import commands
from orderwire.sweeper import CommandSweeper
from tests.payloads import place_order_payload
from tests.recorded_commands import record_command, recorded_command

pytestmark = pytest.mark.integration


def sweeper(engine: Engine, sent: list[str]) -> CommandSweeper:
    return CommandSweeper(
        engine,
        lambda _command, _request_id, command_id: sent.append(command_id),
        accepted_after=timedelta(seconds=30),
        running_after=timedelta(seconds=30),
        batch_size=10_000,  # PostgreSQL's schema is shared: other tests' commands count too
    )


def host_clock(skew_seconds: float) -> time_machine.travel:
    return time_machine.travel(datetime.now(UTC) + timedelta(seconds=skew_seconds), tick=True)


def test_a_sweeper_45_s_ahead_leaves_a_fresh_command_alone(engine: Engine) -> None:
    fresh = record_command(engine, "PlaceOrder", place_order_payload())
    sent: list[str] = []
    with host_clock(+45):
        sweeper(engine, sent).sweep()
    assert fresh not in sent
    assert recorded_command(engine, fresh)["status"] == "accepted"


def test_a_web_host_45_s_behind_does_not_make_its_commands_look_stale(engine: Engine) -> None:
    with host_clock(-45):
        fresh = record_command(engine, "PlaceOrder", place_order_payload())
    sent: list[str] = []
    sweeper(engine, sent).sweep()
    assert fresh not in sent


def test_a_command_stale_by_the_database_s_clock_is_swept_whatever_the_host_says(
    engine: Engine,
) -> None:
    stale = record_command(engine, "PlaceOrder", place_order_payload())
    with engine.begin() as connection:
        long_ago = database_time(connection) - timedelta(seconds=60)
        connection.execute(
            update(commands).where(commands.c.command_id == stale).values(touched_at=long_ago)
        )
    sent: list[str] = []
    with host_clock(-45):
        sweeper(engine, sent).sweep()
    assert stale in sent


def test_the_database_clock_reads_as_utc_now(engine: Engine) -> None:
    with engine.connect() as connection:
        told = database_time(connection)
    assert told.tzinfo is not None
    assert abs((told - datetime.now(UTC)).total_seconds()) < 5
