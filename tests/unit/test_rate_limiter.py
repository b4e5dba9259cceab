"""The rate limiter's counting on fakeredis: fixed windows from an injected clock, one
counter per client that cleans itself up, and failing open while Redis is away. The same
limiter behind real HTTP and a real Redis is in tests/integration/test_security.py."""

import logging

import fakeredis
import pytest

from web.rate_limit import KEY_PREFIX, RateLimit, RedisRateLimiter

START = 1_000_000.0  # a window boundary for windows of 10 s


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


def a_limiter(server: fakeredis.FakeServer, clock: Clock, limit: int = 2) -> RedisRateLimiter:
    return RedisRateLimiter(fakeredis.FakeRedis(server=server), RateLimit(limit, 10), clock=clock)


def test_over_the_limit_a_client_is_told_how_long_until_the_window_ends(
    server: fakeredis.FakeServer,
) -> None:
    clock = Clock()
    limiter = a_limiter(server, clock)

    assert [limiter.hit("10.0.0.1") for _ in range(3)] == [None, None, 10]
    clock.now += 7.5
    assert limiter.hit("10.0.0.1") == 3  # rounded up, never 0
    clock.now += 2.5
    assert limiter.hit("10.0.0.1") is None  # the next window


def test_each_client_has_its_own_counter_which_expires_after_its_window(
    server: fakeredis.FakeServer,
) -> None:
    clock = Clock()
    limiter = a_limiter(server, clock, limit=1)

    assert limiter.hit("10.0.0.1") is None
    assert limiter.hit("10.0.0.2") is None
    assert limiter.hit("10.0.0.1") == 10

    client = fakeredis.FakeRedis(server=server)
    keys = sorted(client.keys(KEY_PREFIX + "*"))
    window = int(START // 10)
    assert keys == [f"{KEY_PREFIX}{address}:{window}".encode()
                    for address in ("10.0.0.1", "10.0.0.2")]
    assert all(0 < client.ttl(key) <= 11 for key in keys)


def test_while_redis_is_away_every_command_passes_and_the_loss_is_logged_once(
    server: fakeredis.FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    limiter = a_limiter(server, clock, limit=1)
    server.connected = False
    caplog.set_level(logging.INFO, logger="orderwire.web")

    assert [limiter.hit("10.0.0.1") for _ in range(3)] == [None, None, None]
    lost = [r for r in caplog.records if getattr(r, "event", None) == "redis.lost"]
    assert len(lost) == 1

    server.connected = True
    assert [limiter.hit("10.0.0.1") for _ in range(2)] == [None, 10]  # counting again
    assert any(getattr(r, "event", None) == "redis.reconnected" for r in caplog.records)
