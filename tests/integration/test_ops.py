"""The operators' endpoints: `/healthz` says the process is up, `/readyz` checks what it needs."""

from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from orderwire import worker_liveness
from orderwire.config import Settings
from orderwire.local_redis import PrivateRedis, free_port
from web import create_app

pytestmark = pytest.mark.integration


def client_for(database_url: str, redis_url: str) -> FlaskClient:
    settings = Settings.from_env(
        {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "ORDERWIRE_ENV": "test"}
    )
    return create_app(settings).test_client()


def test_healthz_answers_while_every_dependency_is_down() -> None:
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    answer = client_for(nowhere, f"redis://127.0.0.1:{free_port()}/0").get("/healthz")
    assert answer.status_code == 200
    assert answer.json == {"status": "ok"}


def test_readyz_is_200_when_the_database_and_redis_answer(
    database_url: str, redis_server: PrivateRedis
) -> None:
    answer = client_for(database_url, redis_server.url).get("/readyz")
    assert answer.status_code == 200
    assert answer.json["status"] == "ready" and answer.json["down"] == {}


def test_readyz_lists_the_workers_that_consume_without_depending_on_them(
    database_url: str, tmp_path: Path
) -> None:
    with PrivateRedis(tmp_path / "redis") as server:
        client = client_for(database_url, server.url)
        assert client.get("/readyz").json["workers_consuming"] == []

        worker_liveness.record_consumed(redis.Redis.from_url(server.url), "worker@a", 5)
        answer = client.get("/readyz")

    assert answer.status_code == 200
    [worker] = answer.json["workers_consuming"]
    assert worker["node"] == "worker@a" and 0 <= worker["seconds_since_consumed"] < 5


def test_readyz_is_503_naming_redis_when_redis_stops(database_url: str, tmp_path: Path) -> None:
    with PrivateRedis(tmp_path / "redis") as doomed:
        client = client_for(database_url, doomed.url)
        assert client.get("/readyz").status_code == 200
    answer = client.get("/readyz")

    assert answer.status_code == 503
    assert answer.json["status"] == "unavailable"
    assert list(answer.json["down"]) == ["redis"]


def test_readyz_is_503_naming_the_database_when_it_cannot_be_reached(
    redis_server: PrivateRedis,
) -> None:
    closed_port = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    answer = client_for(closed_port, redis_server.url).get("/readyz")

    assert answer.status_code == 503
    assert list(answer.json["down"]) == ["database"]


def test_readyz_names_both_when_both_are_down() -> None:
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    answer = client_for(nowhere, f"redis://127.0.0.1:{free_port()}/0").get("/readyz")

    assert answer.status_code == 503
    assert sorted(answer.json["down"]) == ["database", "redis"]
