"""Each web process's hub receives only the events of the sessions whose sockets it holds.

Two real hubs (two web processes' worth) on one real Redis, each holding one session.
"""

import uuid
from collections.abc import Iterator

import pytest
import redis

from orderwire.local_redis import PrivateRedis
from orderwire.outbox.keys import session_route
from tests.live_tools import publish_notes
from tools.harness.waiting import wait_for
from web.live.hub import LiveHub

pytestmark = pytest.mark.integration


@pytest.fixture
def hubs(redis_client: redis.Redis) -> Iterator[tuple[LiveHub, LiveHub]]:
    first, second = (LiveHub(redis_client, queue_limit=1000) for _ in range(2))
    yield first, second
    first.shutdown()
    second.shutdown()


def a_session() -> str:
    return f"routes-{uuid.uuid4().hex[:10]}"


def test_a_hub_gets_nothing_of_the_sessions_it_does_not_hold(
    redis_server: PrivateRedis, hubs: tuple[LiveHub, LiveHub]
) -> None:
    first, second = hubs
    mine, theirs = a_session(), a_session()
    mine_here = first.register(mine)
    theirs_there = second.register(theirs)
    assert mine_here is not None and theirs_there is not None

    publish_notes(redis_server.url, [mine], 50)
    wait_for(lambda: len(mine_here._frames) == 50, what="the 50 frames on the first hub")

    assert first.messages_received == 50
    assert second.messages_received == 0
    assert not theirs_there._frames


def test_an_event_for_sessions_on_two_hubs_reaches_each_once(
    redis_server: PrivateRedis, hubs: tuple[LiveHub, LiveHub]
) -> None:
    first, second = hubs
    here, there = a_session(), a_session()
    on_first, on_second = first.register(here), second.register(there)
    assert on_first is not None and on_second is not None

    [event_id] = publish_notes(redis_server.url, [here, there], 1)
    wait_for(lambda: on_first._frames and on_second._frames, what="both hubs to get it")
    assert (first.messages_received, second.messages_received) == (1, 1)
    assert event_id in on_first._frames[0][1] and event_id in on_second._frames[0][1]


def test_the_route_goes_when_the_last_socket_of_a_session_closes(
    redis_client: redis.Redis, hubs: tuple[LiveHub, LiveHub]
) -> None:
    first, _ = hubs
    session = a_session()
    one, two = first.register(session), first.register(session)
    assert one is not None and two is not None
    assert redis_client.smembers(session_route(session)) == {first.hub_id.encode()}
    assert 0 < redis_client.ttl(session_route(session)) <= 300

    first.unregister(one)
    assert redis_client.smembers(session_route(session)) == {first.hub_id.encode()}
    first.unregister(two)
    assert redis_client.smembers(session_route(session)) == set()


def test_routes_lost_with_redis_are_written_again_when_the_hub_resubscribes(
    redis_client: redis.Redis, hubs: tuple[LiveHub, LiveHub]
) -> None:
    first, _ = hubs
    session = a_session()
    assert first.register(session) is not None
    redis_client.delete(session_route(session))  # as after a failover that lost the write
    redis_client.client_kill_filter(_type="pubsub")
    wait_for(
        lambda: redis_client.smembers(session_route(session)) == {first.hub_id.encode()},
        what="the route to be written again",
    )
