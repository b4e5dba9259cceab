"""The web's Celery sends every command through one Redis client per channel (real Redis)."""

import uuid

import pytest
import redis
from kombu.transport import redis as kombu_redis

from orderwire.broker_transport import Transport
from orderwire.config import Settings
from orderwire.task_queue import CommandQueue, create_celery

pytestmark = pytest.mark.integration


def clients_made_to_send(redis_url: str, client: redis.Redis, *, sender: bool,
                         monkeypatch: pytest.MonkeyPatch) -> int:
    """Send 50 commands; how many Redis client objects the channel built meanwhile."""
    made: list[object] = []
    create_client = kombu_redis.Channel._create_client

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        made.append(self)
        return create_client(self, *args, **kwargs)

    monkeypatch.setattr(kombu_redis.Channel, "_create_client", counted)
    queue_name = f"commands-{uuid.uuid4().hex[:8]}"
    settings = Settings(redis_url=redis_url, database_url="sqlite://", secret_key="t")
    app = create_celery(settings, sender=sender)
    app.conf.task_default_queue = queue_name
    queue = CommandQueue(app)
    queue.enqueue_command("PlaceOrder", "warm-up")  # connects, declares, builds its clients
    before = len(made)
    for index in range(50):
        queue.enqueue_command("PlaceOrder", f"r-{index}")
    assert client.llen(queue_name) == 51  # every command arrived
    return len(made) - before


def test_the_web_sends_commands_without_building_a_client_per_message(
    redis_server, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(redis_url=redis_server.url, database_url="sqlite://", secret_key="t")
    assert isinstance(create_celery(settings, sender=True).connection_for_write().transport,
                      Transport)

    ours = clients_made_to_send(redis_server.url, redis_client, sender=True,
                                monkeypatch=monkeypatch)
    kombus = clients_made_to_send(redis_server.url, redis_client, sender=False,
                                  monkeypatch=monkeypatch)

    assert ours == 0
    assert kombus >= 50  # what the stock channel does, and this transport avoids


def test_the_workers_app_keeps_kombus_transport_for_flower() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:6379/0", database_url="sqlite://",
                        secret_key="t")
    connection = create_celery(settings).connection_for_write()
    assert connection.as_uri().startswith("redis://")
