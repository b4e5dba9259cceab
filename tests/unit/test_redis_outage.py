"""A process says once that it lost Redis and once that it has it back."""

import logging

import pytest

from orderwire.redis_outage import RedisOutage


def events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [getattr(record, "event", "") for record in caplog.records]


def test_an_outage_is_said_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = RedisOutage("relay", logging.getLogger("test.outage"))
    with caplog.at_level(logging.INFO, logger="test.outage"):
        outage.answered()
        for _ in range(3):
            outage.lost(ConnectionError("refused"))
        assert outage.down
        outage.answered()
        outage.answered()

    assert events(caplog) == ["redis.lost", "redis.reconnected"]
    assert "relay lost its Redis connection (ConnectionError)" in caplog.records[0].getMessage()
    assert caplog.records[1].getMessage().startswith("relay reconnected to Redis after ")
    assert not outage.down


def test_each_outage_is_said_again(caplog: pytest.LogCaptureFixture) -> None:
    outage = RedisOutage("live hub", logging.getLogger("test.outage"))
    with caplog.at_level(logging.INFO, logger="test.outage"):
        for _ in range(2):
            outage.lost(TimeoutError())
            outage.answered()

    assert events(caplog) == ["redis.lost", "redis.reconnected"] * 2


def test_a_client_that_reconnected_by_itself_says_so_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = RedisOutage("live hub", logging.getLogger("test.outage"))
    with caplog.at_level(logging.INFO, logger="test.outage"):
        outage.reconnected()

    assert events(caplog) == ["redis.reconnected"]
    assert caplog.records[0].getMessage() == "live hub reconnected to Redis"
