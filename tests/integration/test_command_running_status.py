"""`GET /api/commands/<id>` while an attempt is under way: the worker commits `running` only
with the outcome, so the status comes from the attempt counter until then."""

import dataclasses
import time

import pytest
import redis
from sqlalchemy import Engine

from orderwire.bootstrap import Orderwire, bootstrap
from orderwire.config import Settings
from tests.recorded_commands import place_order_payload, record_command
from web import create_app

pytestmark = pytest.mark.integration


@pytest.fixture
def services(settings: Settings, engine: Engine, redis_client: redis.Redis) -> Orderwire:
    return bootstrap(
        dataclasses.replace(settings, sweep_running_after=2), engine=engine,
        redis_client=redis_client,
    )


def status_of(services: Orderwire, request_id: str) -> dict:
    answer = create_app(services.settings, services=services).test_client().get(
        f"/api/commands/{request_id}"
    )
    assert answer.status_code == 200
    return answer.get_json()


def test_a_command_with_an_attempt_under_way_shows_running_with_its_attempt(
    services: Orderwire,
) -> None:
    request_id = record_command(services.engine, "PlaceOrder", place_order_payload())
    before = status_of(services, request_id)
    assert (before["status"], before["attempts"]) == ("accepted", 0)
    assert services.attempts is not None

    services.attempts(request_id)
    services.attempts(request_id)  # its second attempt has started

    shown = status_of(services, request_id)
    assert (shown["status"], shown["attempts"]) == ("running", 2)


def test_an_attempt_that_went_stale_shows_the_logs_status_again(services: Orderwire) -> None:
    request_id = record_command(services.engine, "PlaceOrder", place_order_payload())
    assert services.attempts is not None
    services.attempts(request_id)
    services.redis.hset(f"orderwire:attempts:{request_id}", "started", repr(time.time() - 10))

    assert status_of(services, request_id)["status"] == "accepted"


def test_a_finished_command_shows_its_outcome_whatever_the_counter_says(
    services: Orderwire,
) -> None:
    request_id = record_command(services.engine, "PlaceOrder", place_order_payload())
    services.execute(request_id)
    assert services.attempts is not None
    services.attempts(request_id)  # a late duplicate counted (it would not: still harmless)

    shown = status_of(services, request_id)
    assert (shown["status"], shown["attempts"]) == ("succeeded", 1)
