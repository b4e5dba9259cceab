"""Helpers for the event tests: an orderwire wired to the test database and a given Redis
(up, down or hanging), commands run as a worker runs them, a PSUBSCRIBE client like any
other service's, and the outbox's publication state."""

import os
import socket
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, select

from orderwire.bootstrap import Orderwire, bootstrap
from orderwire.config import Settings
from orderwire.db.tables import events
from orderwire.local_redis import free_port
from orderwire.outbox.relay import OutboxRelay
from orderwire.pipeline.execution import Outcome
from tests.payloads import place_order_payload
from tests.recorded_commands import record_command
from tools.harness.listening import PatternListener
from tools.harness.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]

__all__ = [
    "HangingRedis",
    "PatternListener",
    "a_session",
    "closed_redis_url",
    "orderwire_on",
    "place",
    "publication",
    "publish_backlog_until_published",
    "relay_now",
    "relay_process",
    "run_command",
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


def a_session() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


def run_command(services: Orderwire, command: str, payload: dict, session: str) -> Outcome:
    """Record a command as the web does, then run it as a worker does."""
    request_id = record_command(services.engine, command, payload, session_id=session)
    return services.execute(request_id)


def place(services: Orderwire, session: str) -> tuple[str, list[str]]:
    """Place an order; (its id, the ids of the events it set off)."""
    order_id = str(uuid.uuid4())
    outcome = run_command(services, "PlaceOrder", place_order_payload(order_id), session)
    assert outcome.status == "succeeded", outcome
    return order_id, outcome.event_ids


def relay_now(services: Orderwire) -> OutboxRelay:
    """The bootstrap's publishing, without the grace the real relay leaves the fast path."""
    return OutboxRelay(
        services.engine,
        services.relay.publish,
        published_ids=services.relay.published_ids,
        grace=timedelta(0),
    )


def publish_backlog_until_published(relay: OutboxRelay, engine: Engine, ids: list[str]) -> None:
    # Another test session on the same PostgreSQL may hold the relay's advisory lock for a moment.
    wait_for(
        lambda: relay.publish_backlog() >= 0 and all(publication(engine, ids).values()),
        timeout=20,
        what="the relay to publish the backlog",
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


def relay_process(
    database_url: str, redis_url: str, log: Path, faults: str = ""
) -> subprocess.Popen[bytes]:
    """`orderwire relay` as a process of its own, with these fault points."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ORDERWIRE_ENV": "test",
        "ORDERWIRE_FAULTS": faults,
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "orderwire.cli", "relay"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
