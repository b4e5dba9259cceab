"""The fast path's publishing script on a real Redis: an event goes out only as its
aggregate's next version, and its id is listed for the relay to mark."""

import uuid

import pytest
import redis

from orderwire.outbox.keys import PUBLISHED_IDS
from orderwire.outbox.publisher import RedisEventPublisher
from orderwire.outbox.store import OutboxEvent

pytestmark = pytest.mark.integration


def an_event(aggregate_id: str, version: int) -> OutboxEvent:
    event_id = str(uuid.uuid4())
    envelope = f'{{"id": "{event_id}", "type": "OrderPaid"}}'
    return OutboxEvent(event_id, "OrderPaid", aggregate_id, (), envelope, None, version)


@pytest.fixture
def publisher(redis_client: redis.Redis) -> RedisEventPublisher:
    redis_client.delete(PUBLISHED_IDS)  # this module's own list (the Redis is the session's)
    return RedisEventPublisher(redis_client)


def test_the_fast_path_sends_an_aggregates_events_only_in_version_order(
    publisher: RedisEventPublisher,
) -> None:
    order = str(uuid.uuid4())
    first, second, third = (an_event(order, version) for version in (1, 2, 3))

    assert publisher.publish([first], only_next=True) == [first]
    assert publisher.publish([third], only_next=True) == []  # version 2 is still waiting
    assert publisher.publish([second, third], only_next=True) == [second, third]


def test_the_relay_sends_whatever_it_is_given_and_the_fast_path_then_goes_on_from_there(
    publisher: RedisEventPublisher,
) -> None:
    order = str(uuid.uuid4())
    held_back = [an_event(order, version) for version in (1, 2)]

    assert publisher.publish(held_back) == held_back  # the relay, in commit order
    assert publisher.publish([held_back[1]], only_next=True) == []  # not again
    following = an_event(order, 3)
    assert publisher.publish([following], only_next=True) == [following]


def test_only_the_fast_paths_events_are_listed_for_marking_and_forgotten_once_marked(
    publisher: RedisEventPublisher,
) -> None:
    fast = [an_event(str(uuid.uuid4()), 1) for _ in range(3)]
    relayed = an_event(str(uuid.uuid4()), 1)
    publisher.publish(fast, only_next=True)
    publisher.publish([relayed])

    listed = publisher.take_published_ids(10)
    assert listed == [event.event_id for event in fast]
    assert publisher.take_published_ids(2) == listed[:2]  # taking does not remove

    publisher.forget_published_ids(2)
    assert publisher.take_published_ids(10) == listed[2:]
