"""Fixtures shared by the integration tests: the real bootstrap on the test's database and
Redis, and a PSUBSCRIBE listener. A test module may define its own to wire differently."""

from collections.abc import Iterator

import pytest
import redis
from alembic import command
from sqlalchemy import Engine

from orderwire.bootstrap import Orderwire, bootstrap
from orderwire.config import Settings
from orderwire.local_redis import PrivateRedis
from orderwire.migrate import alembic_config
from tools.harness.listening import PatternListener


@pytest.fixture
def settings(database_url: str, redis_server: PrivateRedis) -> Settings:
    return Settings(
        redis_url=redis_server.url,
        database_url=database_url,
        secret_key="test-only",
        environment="test",
    )


@pytest.fixture
def migrated(database_url: str) -> str:
    """The test database (made from the tables) recorded as being at the code's head, as
    `/readyz` requires of a deployed one."""
    command.stamp(alembic_config(database_url), "head")
    return database_url


@pytest.fixture
def services(settings: Settings, engine: Engine, redis_client: redis.Redis) -> Orderwire:
    return bootstrap(settings, engine=engine, redis_client=redis_client)


@pytest.fixture
def listener(redis_client: redis.Redis) -> Iterator[PatternListener]:
    subscriber = PatternListener(redis_client)
    yield subscriber
    subscriber.close()
