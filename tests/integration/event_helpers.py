"""Helpers for the event tests: an orderwire wired to the test database and a given Redis, a
PSUBSCRIBE client like any other service's, and the outbox's publication state."""

import socket
import threading
from typing import Any

import redis
from sqlalchemy import Engine, select

from orderwire.bootstrap import Orderwire, bootstrap
from orderwire.config import Settings
from orderwire.db.tables import events
from orderwire.local_redis import free_port
from tests.listening import PatternListener

__all__ = [
    "HangingRedis",
    "PatternListener",
    "closed_redis_url",
    "orderwire_on",
    "publication",
    "unpublished_ids",
]


def closed_redis_url() -> str:
    """A loopback port nobody listens on: Redis "down" without stopping the shared one."""
    return f"redis://127.0.0.1:{free_port()}/0"


def orderwire_on(
    engine: Engine,
    database_url: str,
    redis_url: str,
    *,
    redis_timeout: float = 5,
    **overrides: Any,
) -> Orderwire:
    """The real bootstrap, on the test's database and the given Redis (which may be down)."""
    settings = Settings.from_env(
        {"REDIS_URL": redis_url, "DATABASE_URL": database_url, "ORDERWIRE_ENV": "test"}
    )
    client = redis.Redis.from_url(
        redis_url, socket_connect_timeout=0.5, socket_timeout=redis_timeout
    )
    overrides.setdefault("after_commit_subscribers", {})
    return bootstrap(settings, engine=engine, redis_client=client, **overrides)


def publication(engine: Engine, event_ids: list[str]) -> dict[str, bool]:
    """event id -> whether the outbox has it marked published."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(events.c.event_id, events.c.published_at).where(events.c.event_id.in_(event_ids))
        ).all()
    return {row.event_id: row.published_at is not None for row in rows}


def unpublished_ids(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(events.c.event_id)
                .where(events.c.published_at.is_(None))
                .order_by(events.c.seq)
            ).scalars()
        )


class HangingRedis:
    """A server that accepts connections and never answers, like a Redis that hangs."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.url = f"redis://127.0.0.1:{self._server.getsockname()[1]}/0"
        self.connected = threading.Event()
        self._release = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        clients = []
        while not self._release.is_set():
            try:
                clients.append(self._server.accept()[0])
                self.connected.set()
            except TimeoutError:
                continue
        for client in clients:
            client.close()
        self._server.close()

    def release(self) -> None:
        """Drop every connection: the clients waiting on it fail at once."""
        self._release.set()
        self._thread.join(10)

