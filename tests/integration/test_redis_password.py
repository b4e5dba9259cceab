"""orderwire against a Redis that asks for a password (as docker-compose.yml runs it): with
the password in REDIS_URL everything works; without it, or with a wrong one, Redis counts
as away (503 where it is needed), and nothing is lost: commands are stored and sent later."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import Engine

from orderwire.bootstrap import bootstrap
from orderwire.config import Settings
from orderwire.local_redis import PrivateRedis
from tests.payloads import ORDER, a_key
from tests.recorded_commands import recorded_command
from web import create_app

pytestmark = pytest.mark.integration

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis").start()
    admin = redis.Redis(port=server.port)
    admin.config_set("requirepass", PASSWORD)
    admin.close()
    yield server
    server.stop()


def client_for(database_url: str, engine: Engine, redis_url: str) -> FlaskClient:
    settings = Settings(redis_url=redis_url, database_url=database_url, secret_key="test-only",
                        environment="test")
    return create_app(settings, services=bootstrap(settings, engine=engine)).test_client()


def test_with_the_password_in_the_url_commands_reach_the_broker(
    guarded: PrivateRedis, migrated: str, engine: Engine
) -> None:
    client = client_for(migrated, engine, f"redis://:{PASSWORD}@127.0.0.1:{guarded.port}/0")
    assert client.get("/readyz").status_code == 200
    key = a_key("pw")

    answer = client.post("/api/orders", json=ORDER, headers={"Idempotency-Key": key})

    assert answer.status_code == 202
    broker = redis.Redis(port=guarded.port, password=PASSWORD)
    assert broker.llen("celery") == 1
    broker.close()


@pytest.mark.parametrize("credentials", ["", ":wrong-password@"], ids=["none", "wrong"])
def test_without_the_right_password_redis_is_away_and_commands_still_wait_safely(
    guarded: PrivateRedis, database_url: str, engine: Engine, credentials: str
) -> None:
    client = client_for(database_url, engine, f"redis://{credentials}127.0.0.1:{guarded.port}/0")
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "redis" in ready.get_json()["down"]
    key = a_key("pw")

    answer = client.post("/api/orders", json=ORDER, headers={"Idempotency-Key": key})

    assert answer.status_code == 202  # stored; the sweeper sends it once Redis lets us in
    assert recorded_command(engine, key)["status"] == "accepted"
    assert redis.Redis(port=guarded.port, password=PASSWORD).llen("celery") == 0
