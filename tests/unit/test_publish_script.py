"""The publisher's Lua script on fakeredis (which runs Lua through lupa): appended once per
event id, held back when it would overtake an earlier version, announced on the live channel
of every web process routing one of its sessions. The real Redis runs it in
tests/integration; here each rule is checked in milliseconds."""

import json

import fakeredis
import pytest

from orderwire.outbox.keys import PUBLISHED_IDS, live_channel, session_route, session_stream
from orderwire.outbox.publisher import RedisEventPublisher
from orderwire.outbox.store import OutboxEvent
from tools.harness.waiting import wait_for
from web.live.history import SessionHistory


@pytest.fixture
def client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


def an_event(event_id: str, version: int, sessions: tuple[str, ...] = ("s1",)) -> OutboxEvent:
    envelope = json.dumps({"id": event_id, "type": "OrderPaid", "version": version})
    return OutboxEvent(event_id, "OrderPaid", "order-1", sessions, envelope, "r-1", version)


def test_publishing_an_event_twice_appends_it_to_each_history_once(
    client: fakeredis.FakeRedis,
) -> None:
    publisher = RedisEventPublisher(client)
    event = an_event("e-1", 1, sessions=("s1", "s2"))

    assert publisher.publish([event]) == [event]
    assert publisher.publish([event]) == [event]

    assert client.xlen(session_stream("s1")) == 1
    assert client.xlen(session_stream("s2")) == 1
    assert SessionHistory(client).after("s1", None) == [
        (SessionHistory(client).position_of("s1", "e-1"), event.envelope)
    ]


def test_the_fast_path_holds_back_an_event_that_would_overtake_an_earlier_version(
    client: fakeredis.FakeRedis,
) -> None:
    publisher = RedisEventPublisher(client)

    assert publisher.publish([an_event("e-2", 2)], only_next=True) == []
    assert client.exists(session_stream("s1")) == 0

    first, second = an_event("e-1", 1), an_event("e-2", 2)
    assert publisher.publish([first, second], only_next=True) == [first, second]
    assert publisher.take_published_ids(10) == ["e-1", "e-2"]
    publisher.forget_published_ids(1)
    assert client.lrange(PUBLISHED_IDS, 0, -1) == [b"e-2"]


def test_the_relay_publishes_whatever_the_version_and_lists_nothing_to_mark(
    client: fakeredis.FakeRedis,
) -> None:
    publisher = RedisEventPublisher(client)
    late = an_event("e-3", 3)

    assert publisher.publish([late]) == [late]
    assert publisher.take_published_ids(10) == []


def test_a_web_process_routing_a_session_gets_the_envelope_with_its_stream_position(
    client: fakeredis.FakeRedis,
) -> None:
    client.sadd(session_route("s1"), "hub-a")
    listener = client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(live_channel("hub-a"), live_channel("hub-b"))
    event = an_event("e-1", 1)

    RedisEventPublisher(client).publish([event])

    # get_message answers None for each subscribe confirmation it skips, so poll.
    message = wait_for(lambda: listener.get_message(timeout=0.1), timeout=5, what="live message")
    assert message["channel"] == live_channel("hub-a").encode()
    live = json.loads(message["data"])
    assert live["envelope"] == json.loads(event.envelope)
    assert live["positions"] == {"s1": SessionHistory(client).position_of("s1", "e-1")}
    assert listener.get_message(timeout=0.1) is None  # hub-b serves no socket of s1


def test_a_history_read_resumes_after_a_position_and_says_when_that_position_is_gone(
    client: fakeredis.FakeRedis,
) -> None:
    publisher = RedisEventPublisher(client)
    publisher.publish([an_event("e-1", 1), an_event("e-2", 2), an_event("e-3", 3)])
    history = SessionHistory(client)
    first = history.position_of("s1", "e-1")
    assert first is not None

    resumed = history.after("s1", first)
    assert resumed is not None
    assert [json.loads(envelope)["id"] for _, envelope in resumed] == ["e-2", "e-3"]
    assert history.newest("s1") == (resumed[-1][0], "e-3")
    assert history.after("s1", "1-0") is None  # never kept: the page must resync
