"""Fixtures of the durable feed's tests: each test has a Redis of its own (with AOF, as
`make run`'s), so a consumer group reading "from the start" sees only that test's events."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from orderwire.local_redis import PrivateRedis


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    with PrivateRedis(tmp_path / "redis", appendonly=True) as server:
        yield server


@pytest.fixture
def client(own_redis: PrivateRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(own_redis.url, socket_connect_timeout=0.5, socket_timeout=5)
    yield client
    client.close()
