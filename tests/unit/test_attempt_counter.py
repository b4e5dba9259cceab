"""The attempt counter's Redis hash on fakeredis: one count per attempt, the start time the
sweeper and the status query read, renewals that move it without counting, and a key that
expires. The counter inside the pipeline, on a real Redis, is in tests/integration."""

import time

import fakeredis
import pytest

from orderwire.attempt_counter import ATTEMPTS_PREFIX, RedisAttemptCounter


@pytest.fixture
def client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


@pytest.fixture
def counter(client: fakeredis.FakeRedis) -> RedisAttemptCounter:
    return RedisAttemptCounter(client, ttl_seconds=60, own_client=client)


def test_each_attempt_counts_once_and_the_key_expires(
    counter: RedisAttemptCounter, client: fakeredis.FakeRedis
) -> None:
    assert [counter("c-1"), counter("c-1"), counter("c-2")] == [1, 2, 1]
    assert 0 < client.ttl(ATTEMPTS_PREFIX + "c-1") <= 60


def test_an_attempt_is_under_way_only_if_it_started_after_the_given_time(
    counter: RedisAttemptCounter,
) -> None:
    before = time.time() - 1
    counter("c-1")
    counter("c-1")

    assert counter.under_way("c-1", since=before) == 2
    assert counter.under_way("c-1", since=time.time() + 1) is None
    assert counter.under_way("never-attempted", since=before) is None
    assert counter.started_since(["c-1", "never-attempted"], before) == {"c-1"}
    assert counter.started_since([], before) == set()


def test_a_renewal_moves_the_start_time_without_counting_an_attempt(
    counter: RedisAttemptCounter, client: fakeredis.FakeRedis
) -> None:
    counter("c-1")
    key = ATTEMPTS_PREFIX + "c-1"
    client.hset(key, "started", repr(time.time() - 120))  # an attempt that began long ago
    client.expire(key, 5)
    a_minute_ago = time.time() - 60
    assert counter.started_since(["c-1"], a_minute_ago) == set()

    counter.renew(["c-1"])
    counter.renew([])  # nothing to renew: no round trip, no error

    assert counter.started_since(["c-1"], a_minute_ago) == {"c-1"}
    assert counter.under_way("c-1", since=a_minute_ago) == 1
    assert client.ttl(key) > 5
