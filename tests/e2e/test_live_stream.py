"""The live stream's contract (CONTRACT.md section 5), checked from outside on real processes.

One System for the module, with a small outbound queue (10 frames) so a slow reader
overflows quickly, and a 1-second heartbeat so heartbeats show up without waiting.
"""

import re
import uuid

import pytest
import redis
import requests
import websocket

from orderwire.outbox.keys import LIVE_CHANNEL_PREFIX, session_stream
from tests.live_tools import RawWebSocket, publish_notes, session_id_of
from tests.payloads import a_line, order_body
from tools.harness.system import System
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

ORDER = order_body("Grace Hopper", a_line("Compiler", 2, "12.50"))
ALLOWED = "http://shop.example"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory):
    env = {
        "ORDERWIRE_WEBSOCKET_QUEUE": "10",
        "ORDERWIRE_HEARTBEAT_SECONDS": "1",
        "ALLOWED_ORIGINS": ALLOWED,
    }
    with System(tmp_path_factory.mktemp("live"), env=env) as running:
        yield running


@pytest.fixture
def redis_client(system: System):
    client = redis.Redis.from_url(system.redis.url)
    yield client
    client.close()


def cookie_of(browser: requests.Session) -> str:
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.cookies)


def ids(events: list[dict]) -> list[str]:
    return [event["id"] for event in events]


def test_two_sessions_never_see_each_others_events(system: System) -> None:
    alice, bob = system.new_session(), system.new_session()
    with system.websocket(alice) as alices_live, system.websocket(bob) as bobs_live:
        alices = system.api(alice).post("/api/orders", ORDER).json()["order_id"]
        bobs = system.api(bob).post("/api/orders", ORDER).json()["order_id"]
        alices_live.wait_for_event(lambda e: e["type"] == "NotificationCreated", timeout=30)
        bobs_live.wait_for_event(lambda e: e["type"] == "NotificationCreated", timeout=30)
        alices_live.collect_for(0.5)
        bobs_live.collect_for(0.5)
    assert {e["aggregate_id"] for e in alices_live.events if e["type"] == "OrderPlaced"} == {
        alices
    }
    assert {e["aggregate_id"] for e in bobs_live.events if e["type"] == "OrderPlaced"} == {bobs}
    assert not set(ids(alices_live.events)) & set(ids(bobs_live.events))
    assert bobs not in str(alices_live.frames) and alices not in str(bobs_live.frames)


def test_resuming_after_fifty_missed_events_delivers_exactly_those_in_order(
    system: System,
) -> None:
    browser = system.new_session()
    sid = session_id_of(browser)
    [seen] = publish_notes(system.redis.url, [sid], 1)
    with system.websocket(browser) as live:
        assert live.hello["last_id"] == seen

    missed = publish_notes(system.redis.url, [sid], 50)

    with system.websocket(browser, after=seen) as resumed:
        assert resumed.hello["last_id"] == missed[-1]
        resumed.wait_for_event(lambda e: e["id"] == missed[-1])
        [live_one] = publish_notes(system.redis.url, [sid], 1)
        resumed.wait_for_event(lambda e: e["id"] == live_one)
        resumed.collect_for(0.5)
    assert ids(resumed.events) == [*missed, live_one]


def test_resuming_from_the_newest_event_sends_nothing_old(system: System) -> None:
    browser = system.new_session()
    sid = session_id_of(browser)
    published = publish_notes(system.redis.url, [sid], 3)
    with system.websocket(browser, after=published[-1]) as live:
        frames = live.collect_for(1.5)
    assert frames == []
    assert {frame["kind"] for frame in live.frames} <= {"hello", "heartbeat"}


def test_a_resume_point_that_is_no_longer_kept_gets_resync(
    system: System, redis_client: redis.Redis
) -> None:
    browser = system.new_session()
    sid = session_id_of(browser)
    published = publish_notes(system.redis.url, [sid], 5)
    # What trimming (MAXLEN) does to the oldest events of a busy session:
    redis_client.xtrim(session_stream(sid), maxlen=2, approximate=False)

    with system.websocket(browser, after=published[0]) as live:
        resync = live.next_frame()
        [later] = publish_notes(system.redis.url, [sid], 1)
        live.wait_for_event(lambda e: e["id"] == later)
    assert resync["kind"] == "resync" and resync["reason"]
    assert ids(live.events) == [later]  # the trimmed ones are not half-replayed


def test_an_unknown_resume_point_gets_resync(system: System) -> None:
    browser = system.new_session()
    with system.websocket(browser, after=str(uuid.uuid4())) as live:
        assert live.next_frame()["kind"] == "resync"


def test_a_slow_reader_is_closed_with_4008_while_others_keep_receiving(system: System) -> None:
    slow, steady = system.new_session(), system.new_session()
    slow_sid, steady_sid = session_id_of(slow), session_id_of(steady)
    stalled = RawWebSocket(system.port, cookie_of(slow), origin=system.base_url)
    try:
        with system.websocket(steady) as steady_live:
            # 300 frames of ~2 KiB: far more than the socket buffers and the queue of 10 hold.
            flood = publish_notes(system.redis.url, [slow_sid], 300, padding=2000)
            for_steady = publish_notes(system.redis.url, [steady_sid], 5)
            steady_live.wait_for_event(lambda e: e["id"] == for_steady[-1])
            assert ids(steady_live.events) == for_steady

        frames, _controls, code = stalled.read_until_close()
    finally:
        stalled.close()

    assert code == 4008
    assert frames[0]["kind"] == "hello"
    received = [frame["event"]["id"] for frame in frames if frame["kind"] == "event"]
    assert 0 < len(received) < len(flood)
    assert received == flood[: len(received)]  # in order, nothing skipped before the close

    with system.websocket(slow, after=received[-1]) as resumed:
        resumed.wait_for_event(lambda e: e["id"] == flood[-1])
    assert ids(resumed.events) == flood[len(received) :]


def open_sockets(system: System) -> int:
    metrics = requests.get(f"{system.base_url}/metrics", timeout=5).text
    sample = re.search(r"^orderwire_websocket_connections (\S+)$", metrics, re.M)
    assert sample is not None, "no websocket gauge in /metrics"
    return int(float(sample[1]))


def test_a_reader_that_stopped_reading_is_let_go_after_the_send_deadline(system: System) -> None:
    """Its loop blocks in a send to a full socket; the send's deadline (10 s) ends it, so
    no thread or greenlet waits forever on a peer that will never read."""
    stopped = system.new_session()
    wait_for(lambda: open_sockets(system) == 0, what="earlier tests' sockets to be gone")
    stalled = RawWebSocket(system.port, cookie_of(stopped), origin=system.base_url)
    try:
        wait_for(lambda: open_sockets(system) == 1, what="the socket to be counted")
        publish_notes(system.redis.url, [session_id_of(stopped)], 300, padding=2000)
        wait_for(lambda: open_sockets(system) == 0, timeout=45,
                 what="the server to let go of the socket that stopped reading")
        # Dropped mid-stream: what was buffered arrives, then the end, and no close frame
        # (one could not follow a frame cut short by the deadline).
        with pytest.raises(ConnectionError):
            stalled.read_until_close()
    finally:
        stalled.close()


def test_a_foreign_origin_is_refused_with_403(system: System) -> None:
    browser = system.new_session()
    with (
        pytest.raises(websocket.WebSocketBadStatusException) as refused,
        system.websocket(browser, origin="http://evil.example"),
    ):
        pass
    assert refused.value.status_code == 403


def test_an_origin_listed_in_allowed_origins_is_accepted(system: System) -> None:
    browser = system.new_session()
    with system.websocket(browser, origin=ALLOWED) as live:
        assert live.hello["kind"] == "hello"


def test_a_handshake_without_a_session_cookie_is_refused_with_401(system: System) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(
            f"ws://127.0.0.1:{system.port}/ws", origin=system.base_url, timeout=10
        )
    assert refused.value.status_code == 401


def test_an_idle_socket_gets_heartbeats(system: System) -> None:
    browser = system.new_session()
    with system.websocket(browser) as live:
        frame = live.next_frame(timeout=5)
    assert frame == {"kind": "heartbeat"}


def test_a_compression_offer_is_declined(system: System) -> None:
    browser = system.new_session()
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{system.port}/ws",
        cookie=cookie_of(browser),
        origin=system.base_url,
        header=["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"],
        timeout=10,
    )
    try:
        handshake = ws.getheaders()
        assert handshake is not None  # connected: the handshake's headers are there
        headers = {name.lower(): value for name, value in handshake.items()}
        assert ws.recv()  # the hello arrives, uncompressed
    finally:
        ws.close()
    assert "sec-websocket-extensions" not in headers


def live_subscribers(client: redis.Redis) -> int:
    """Subscriptions on every web process's live channel (one web process here)."""
    channels = client.pubsub_channels(f"{LIVE_CHANNEL_PREFIX}*")
    return sum(count for _, count in client.pubsub_numsub(*channels)) if channels else 0


def test_twenty_websockets_share_one_redis_subscription(
    system: System, redis_client: redis.Redis
) -> None:
    browsers = [system.new_session() for _ in range(20)]
    sids = [session_id_of(browser) for browser in browsers]
    opened = [system.websocket(browser) for browser in browsers]
    clients = [context.__enter__() for context in opened]  # each has had its hello
    try:
        subscribers = live_subscribers(redis_client)
        published = {sid: publish_notes(system.redis.url, [sid], 1)[0] for sid in sids}
        for sid, client in zip(sids, clients, strict=True):
            client.wait_for_event(lambda e, sid=sid: e["id"] == published[sid])
    finally:
        for context in opened:
            context.__exit__(None, None, None)
    assert subscribers == 1
    for sid, client in zip(sids, clients, strict=True):
        assert ids(client.events) == [published[sid]]


def test_closing_sockets_leaves_the_subscription_in_place(
    system: System, redis_client: redis.Redis
) -> None:
    browser = system.new_session()
    for _ in range(3):
        with system.websocket(browser) as live:
            assert live.hello["kind"] == "hello"
    wait_for(
        lambda: live_subscribers(redis_client) == 1,
        what="exactly one subscriber on the web process's live channel",
    )
