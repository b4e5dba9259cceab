"""The operators' endpoints: `/healthz` says the process is up, `/readyz` checks what it needs."""

from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from orderwire import worker_liveness
from orderwire.config import Settings
from orderwire.local_redis import PrivateRedis, free_port
from orderwire.migrate import code_head, upgrade
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
    migrated: str, redis_server: PrivateRedis
) -> None:
    database_url = migrated
    answer = client_for(database_url, redis_server.url).get("/readyz")
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "ready" and answer.get_json()["down"] == {}


def test_readyz_lists_the_workers_that_consume_without_depending_on_them(
    migrated: str, tmp_path: Path
) -> None:
    with PrivateRedis(tmp_path / "redis") as server:
        client = client_for(migrated, server.url)
        assert client.get("/readyz").get_json()["workers_consuming"] == []

        worker_liveness.record_consumed(redis.Redis.from_url(server.url), "worker@a", 5)
        answer = client.get("/readyz")

    assert answer.status_code == 200
    [worker] = answer.get_json()["workers_consuming"]
    assert worker["node"] == "worker@a" and 0 <= worker["seconds_since_consumed"] < 5


def test_readyz_is_503_naming_redis_when_redis_stops(migrated: str, tmp_path: Path) -> None:
    database_url = migrated
    with PrivateRedis(tmp_path / "redis") as doomed:
        client = client_for(database_url, doomed.url)
        assert client.get("/readyz").status_code == 200
    answer = client.get("/readyz")

    assert answer.status_code == 503
    assert answer.get_json()["status"] == "unavailable"
    assert list(answer.get_json()["down"]) == ["redis"]


def test_readyz_is_503_naming_the_database_when_it_cannot_be_reached(
    redis_server: PrivateRedis,
) -> None:
    closed_port = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    answer = client_for(closed_port, redis_server.url).get("/readyz")

    assert answer.status_code == 503
    assert list(answer.get_json()["down"]) == ["database"]


def test_readyz_names_both_when_both_are_down() -> None:
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    answer = client_for(nowhere, f"redis://127.0.0.1:{free_port()}/0").get("/readyz")

    assert answer.status_code == 503
    assert sorted(answer.get_json()["down"]) == ["database", "redis"]


def test_readyz_is_503_for_a_database_nobody_migrated(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    # What a host with a forgotten DATABASE_URL used to find: an empty SQLite file of its own.
    answer = client_for(f"sqlite:///{tmp_path / 'forgotten.db'}", redis_server.url).get("/readyz")

    assert answer.status_code == 503
    assert answer.get_json()["down"] == {"database": f"schema is at no revision, not {code_head()}"}


def test_readyz_is_503_until_the_schema_reaches_the_code_s_head(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    upgrade(url, "0001")
    client = client_for(url, redis_server.url)
    behind = client.get("/readyz")
    assert behind.status_code == 503 and "0001" in behind.get_json()["down"]["database"]

    upgrade(url)
    assert client.get("/readyz").status_code == 200
