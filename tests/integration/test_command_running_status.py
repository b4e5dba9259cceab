"""`GET /api/commands/<id>` while an attempt is under way: the worker commits `running` only
with the outcome, so the status comes from the attempt counter until then."""

import dataclasses
import time

import pytest
import redis
from sqlalchemy import Engine

from orderwire.bootstrap import Orderwire, bootstrap
from orderwire.config import Settings
from tests.payloads import a_key, place_order_payload
from tests.recorded_commands import record_command
from web import create_app

pytestmark = pytest.mark.integration


@pytest.fixture
def services(settings: Settings, engine: Engine, redis_client: redis.Redis) -> Orderwire:
    return bootstrap(
        dataclasses.replace(settings, sweep_running_after=2), engine=engine,
        redis_client=redis_client,
    )


SESSION = "s-running"


def a_command(services: Orderwire) -> tuple[str, str]:
    """A PlaceOrder accepted from SESSION: (its request id, its command id)."""
    request_id = a_key("r")
    command_id = record_command(
        services.engine, "PlaceOrder", place_order_payload(), session_id=SESSION,
        request_id=request_id,
    )
    return request_id, command_id


def status_of(services: Orderwire, request_id: str) -> dict:
    client = create_app(services.settings, services=services).test_client()
    with client.session_transaction() as session:
        session["sid"] = SESSION  # commands are their session's (issue 12)
    answer = client.get(f"/api/commands/{request_id}")
    assert answer.status_code == 200
    return answer.get_json()


def test_a_command_with_an_attempt_under_way_shows_running_with_its_attempt(
    services: Orderwire,
) -> None:
    request_id, command_id = a_command(services)
    before = status_of(services, request_id)
    assert (before["status"], before["attempts"]) == ("accepted", 0)
    assert services.attempts is not None

    services.attempts(command_id)
    services.attempts(command_id)  # its second attempt has started

    shown = status_of(services, request_id)
    assert (shown["status"], shown["attempts"]) == ("running", 2)


def test_an_attempt_that_went_stale_shows_the_logs_status_again(services: Orderwire) -> None:
    request_id, command_id = a_command(services)
    assert services.attempts is not None
    services.attempts(command_id)
    services.redis.hset(f"orderwire:attempts:{command_id}", "started", repr(time.time() - 10))

    assert status_of(services, request_id)["status"] == "accepted"


def test_a_finished_command_shows_its_outcome_whatever_the_counter_says(
    services: Orderwire,
) -> None:
    request_id, command_id = a_command(services)
    services.execute(command_id)
    assert services.attempts is not None
    services.attempts(command_id)  # a late duplicate counted (it would not: still harmless)

    shown = status_of(services, request_id)
    assert (shown["status"], shown["attempts"]) == ("succeeded", 1)
