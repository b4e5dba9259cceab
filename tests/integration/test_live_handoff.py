"""The hand-off between replay and live events, and the hub's catch-up after a lost
subscription, made deterministic: a real Redis and a real LiveHub, with the race
forced to happen at the worst moment instead of hoped for."""

import json
import threading
from typing import Any

import pytest
import redis
from simple_websocket import ConnectionClosed
from wsproto.frame_protocol import CloseReason

from orderwire.local_redis import PrivateRedis
from tests.live_tools import publish_notes
from tools.harness.waiting import wait_for
from web.live.history import SessionHistory
from web.live.hub import LiveHub
from web.live.stream import Stream

pytestmark = pytest.mark.integration


class RecordingSocket:
    """Stands in for simple-websocket's Server: records frames, hangs up on request."""

    def __init__(self) -> None:
        self.connected = True
        self.frames: list[dict[str, Any]] = []
        self.input_buffer: list[Any] = []
        self.event = threading.Event()
        self.close_code: int | None = None

    def send(self, data: str) -> None:
        if not self.connected:
            raise ConnectionClosed(CloseReason.NORMAL_CLOSURE, "closed")
        self.frames.append(json.loads(data))

    def close(self, reason: int | None = None, message: str | None = None) -> None:
        self.connected, self.close_code = False, reason

    def hang_up(self) -> None:
        self.connected = False
        self.event.set()

    def event_ids(self) -> list[str]:
        return [frame["event"]["id"] for frame in self.frames if frame["kind"] == "event"]


class PublishingWhileReading(SessionHistory):
    """History whose replay read happens just after one more event was published: that
    event is then both in the history and in the live queue."""

    def __init__(self, client: redis.Redis, publish: Any) -> None:
        super().__init__(client)
        self.publish = publish
        self.published: list[str] = []

    def after(self, session_id: str, position: str | None) -> list[tuple[str, str]] | None:
        if not self.published:
            self.published = self.publish()
        return super().after(session_id, position)


@pytest.fixture
def hub(redis_client: redis.Redis):
    hub = LiveHub(redis_client, queue_limit=100)
    yield hub
    hub.shutdown()


def run_stream(ws: RecordingSocket, hub: LiveHub, history: SessionHistory, sid: str,
               after: str | None) -> threading.Thread:
    stream = Stream(ws, hub, history, sid, heartbeat=30)
    thread = threading.Thread(target=stream.run, args=(after,), daemon=True)
    thread.start()
    return thread


def test_an_event_published_while_the_replay_is_read_is_sent_exactly_once(
    redis_server: PrivateRedis, redis_client: redis.Redis, hub: LiveHub
) -> None:
    sid = "handoff-" + redis_server.url[-5:] + "-1"
    [seen, *missed] = publish_notes(redis_server.url, [sid], 4)
    history = PublishingWhileReading(
        redis_client, lambda: publish_notes(redis_server.url, [sid], 1)
    )
    ws = RecordingSocket()
    thread = run_stream(ws, hub, history, sid, after=seen)

    [during] = wait_for(lambda: history.published, what="the replay to be read")
    wait_for(lambda: during in ws.event_ids(), what="the event published during the replay")
    [later] = publish_notes(redis_server.url, [sid], 1)
    wait_for(lambda: later in ws.event_ids(), what="a live event after the replay")
    ws.hang_up()
    thread.join(5)

    assert not thread.is_alive()
    assert ws.event_ids() == [*missed, during, later]


def test_events_missed_while_the_hub_was_unsubscribed_are_caught_up_in_order(
    redis_server: PrivateRedis, redis_client: redis.Redis, hub: LiveHub
) -> None:
    sid = "handoff-" + redis_server.url[-5:] + "-2"
    ws = RecordingSocket()
    thread = run_stream(ws, hub, SessionHistory(redis_client), sid, after=None)
    wait_for(lambda: ws.frames, what="the hello")
    assert ws.frames[0] == {"kind": "hello", "last_id": None}

    # Kill the hub's subscription and publish at once: the hub backs off at least 0.1 s
    # before it subscribes again, so these land while nobody listens live (and were they
    # delivered live after all, the assertions below would still hold).
    redis_client.client_kill_filter(_type="pubsub")
    in_the_gap = publish_notes(redis_server.url, [sid], 3)
    wait_for(lambda: len(ws.event_ids()) >= 3, what="the catch-up after resubscribing")
    [after_gap] = publish_notes(redis_server.url, [sid], 1)
    wait_for(lambda: after_gap in ws.event_ids(), what="live events after the catch-up")
    ws.hang_up()
    thread.join(5)

    assert ws.event_ids() == [*in_the_gap, after_gap]


def test_a_closed_socket_ends_its_stream_without_waiting_for_a_heartbeat(
    redis_server: PrivateRedis, redis_client: redis.Redis, hub: LiveHub
) -> None:
    ws = RecordingSocket()
    thread = run_stream(ws, hub, SessionHistory(redis_client), "handoff-closing", after=None)
    wait_for(lambda: ws.frames, what="the hello")
    ws.hang_up()  # what simple-websocket's reader does when the peer closes
    thread.join(5)
    assert not thread.is_alive()
    assert hub.connection_count == 0
