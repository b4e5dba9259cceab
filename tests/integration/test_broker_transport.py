"""The Celery worker's broker connection closes cleanly when Redis dies under it.

This replays, on kombu objects and a real Redis, what Celery 5.7's consumer does when
the broker connection breaks (`Consumer.on_connection_error_after_connected`):
`connection.collect()`, then `connection.close()` under `ignore_errors`. With a BRPOP
in flight and an unacknowledged message (acks_late), kombu's stock Redis channel then
raises `AttributeError: 'NoneType' object has no attribute 'hostname'`, which Celery
treats as unrecoverable: the worker's main process exits. See orderwire/broker_transport.py.

And the web's Celery sends every command through one Redis client per channel.
"""

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kombu
import pytest
import redis
from kombu.common import ignore_errors
from kombu.transport import redis as kombu_redis

from orderwire import broker_transport
from orderwire.config import Settings
from orderwire.local_redis import PrivateRedis
from orderwire.task_queue import CommandQueue, create_celery
from tests.payloads import a_key

pytestmark = pytest.mark.integration

STOCK = "kombu.transport.redis:Transport"
OURS = "orderwire.broker_transport:Transport"


@pytest.fixture
def doomed_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    with PrivateRedis(tmp_path / "redis") as server:
        yield server


def connection_cut_mid_brpop(server: PrivateRedis, transport: str) -> kombu.Connection:
    """A consumer connection as Celery's worker holds it when Redis dies: one message
    delivered and not acknowledged, a BRPOP in flight on each of two channels (the task
    consumer's and, say, the remote-control one), then Redis killed."""
    connection = kombu.Connection(server.url, transport=transport)
    tasks = kombu.Queue(a_key("tasks"))
    connection.Producer().publish({"task": 1}, routing_key=tasks.name, declare=[tasks])
    delivered: list[kombu.Message] = []
    kombu.Consumer(
        connection.default_channel, queues=[tasks], accept=["json"],
        callbacks=[lambda _body, message: delivered.append(message)],
    ).consume()
    control = kombu.Queue(a_key("control"))
    kombu.Consumer(connection.channel(), queues=[control], accept=["json"]).consume()
    connection.drain_events(timeout=5)
    with pytest.raises(socket.timeout):
        connection.drain_events(timeout=0.2)  # leaves the next BRPOP waiting for a reply
    # kombu's stubs leave the redis Channel's private polling state out
    assert len(delivered) == 1 and connection.default_channel._in_poll  # type: ignore[attr-defined]
    server.kill()
    return connection


def close_as_celery_does(connection: kombu.Connection) -> None:
    connection.collect(socket_timeout=1)
    ignore_errors(connection, connection.close)


def test_the_worker_connection_closes_cleanly_when_redis_dies_mid_brpop(
    doomed_redis: PrivateRedis,
) -> None:
    connection = connection_cut_mid_brpop(doomed_redis, OURS)
    channels = [connection.default_channel]

    close_as_celery_does(connection)  # raises nothing

    # the stubs type default_channel as the abstract StdChannel, which has no `closed`
    assert all(channel.closed for channel in channels)  # type: ignore[attr-defined]


def test_stock_kombu_still_crashes_there(doomed_redis: PrivateRedis) -> None:
    # The upstream bug this project works around. When this test fails, kombu has fixed
    # it: delete orderwire/broker_transport.py and this file.
    connection = connection_cut_mid_brpop(doomed_redis, STOCK)

    with pytest.raises(AttributeError, match="hostname"):
        close_as_celery_does(connection)


def test_a_channel_closed_after_its_transport_was_detached_says_connection_error(
    doomed_redis: PrivateRedis,
) -> None:
    connection = kombu.Connection(doomed_redis.url, transport=OURS)
    channel = connection.channel()
    transport = connection.transport
    doomed_redis.kill()
    transport.client = None  # what Connection.collect() does before a late close

    with pytest.raises(connection.connection_errors):
        # private, left out of kombu's stubs
        channel._connparams()  # type: ignore[attr-defined]


def test_redis_urls_keep_their_scheme_and_get_our_transport(redis_server: PrivateRedis) -> None:
    broker_transport.install()
    connection = kombu.Connection(redis_server.url)

    assert isinstance(connection.transport, broker_transport.Transport)
    assert connection.as_uri().startswith("redis://")  # Flower picks its broker page by it
    assert kombu.Connection("sentinel://127.0.0.1:26379").transport_cls == "sentinel"
    assert issubclass(
        kombu.Connection("sentinel://127.0.0.1:26379").get_transport_cls(),
        broker_transport.SentinelTransport,
    )


def clients_made_to_send(redis_url: str, client: redis.Redis, *, kombus_own: bool,
                         monkeypatch: pytest.MonkeyPatch) -> int:
    """Send 50 commands; how many Redis client objects the channel built meanwhile."""
    made: list[object] = []
    # private, left out of kombu's stubs
    create_client = kombu_redis.Channel._create_client  # type: ignore[attr-defined]

    def counted(self: kombu_redis.Channel, *args: Any, **kwargs: Any) -> Any:
        made.append(self)
        return create_client(self, *args, **kwargs)

    monkeypatch.setattr(kombu_redis.Channel, "_create_client", counted)
    queue_name = f"commands-{uuid.uuid4().hex[:8]}"
    settings = Settings(redis_url=redis_url, database_url="sqlite://", secret_key="t")
    app = create_celery(settings)
    if kombus_own:  # kombu's own channel, to compare with
        app.conf.broker_transport = "kombu.transport.redis:Transport"
    app.conf.task_default_queue = queue_name
    queue = CommandQueue(app)
    # connects, declares, builds its clients
    queue.enqueue_command("PlaceOrder", "warm-up", "c-warm-up")
    before = len(made)
    for index in range(50):
        queue.enqueue_command("PlaceOrder", f"r-{index}", f"c-{index}")
    assert client.llen(queue_name) == 51  # every command arrived
    return len(made) - before


def test_the_web_sends_commands_without_building_a_client_per_message(
    redis_server, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(redis_url=redis_server.url, database_url="sqlite://", secret_key="t")
    assert isinstance(create_celery(settings).connection_for_write().transport,
                      broker_transport.Transport)

    ours = clients_made_to_send(redis_server.url, redis_client, kombus_own=False,
                                monkeypatch=monkeypatch)
    kombus = clients_made_to_send(redis_server.url, redis_client, kombus_own=True,
                                  monkeypatch=monkeypatch)

    assert ours == 0
    assert kombus >= 50  # what the stock channel does, and this transport avoids


def test_the_workers_app_sends_through_one_client_and_keeps_its_url_for_flower() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:6379/0", database_url="sqlite://",
                        secret_key="t")
    connection = create_celery(settings).connection_for_write()
    assert connection.as_uri().startswith("redis://")
    assert isinstance(connection.transport, broker_transport.Transport)
