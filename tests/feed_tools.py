"""Helpers for the feed tests (integration and e2e): envelopes published through the real
publishing script to a private Redis, and `orderwire tail --group` as a real process."""

import json
import os
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import redis

from orderwire.feed.names import FEED_STREAM
from orderwire.outbox.envelope import dumps, make_envelope
from orderwire.outbox.publisher import RedisEventPublisher
from orderwire.outbox.store import OutboxEvent
from orderwire.redis_replies import stream_entries
from tests.payloads import a_key

ROOT = Path(__file__).resolve().parents[1]


def an_event(order_id: str, version: int, event_type: str = "OrderPaid") -> OutboxEvent:
    event_id = str(uuid.uuid4())
    envelope = make_envelope(
        event_id=event_id, event_type=event_type, occurred_at=datetime.now(UTC),
        request_id=a_key("r"), aggregate_id=order_id, aggregate_version=version,
        data={"order_id": order_id, **({"total": "12.50"} if event_type == "OrderPaid" else {})},
    )
    return OutboxEvent(event_id, event_type, order_id, (f"s-{order_id[:8]}",), dumps(envelope))


def publish(client: redis.Redis, count: int, *, orders: int = 5, **options: int) -> list[str]:
    """Publish `count` events over `orders` orders (versions 1, 2, 3… each), in one batch
    per ten events as the relay would; returns their ids in publishing order."""
    order_ids = [str(uuid.uuid4()) for _ in range(orders)]
    batch = [an_event(order_ids[n % orders], n // orders + 1) for n in range(count)]
    publisher = RedisEventPublisher(client, **options)
    for start in range(0, count, 10):
        publisher.publish(batch[start : start + 10])
    return [event.event_id for event in batch]


def feed_ids(client: redis.Redis) -> list[str]:
    """Event ids in the feed, oldest first."""
    entries = stream_entries(client.xrange(FEED_STREAM))
    return [json.loads(fields[b"envelope"])["id"] for _, fields in entries]


def joined(client: redis.Redis, group: str, consumers: int = 1) -> bool:
    """Whether `group` has at least `consumers` consumers: the stream and the group may not
    exist yet (XINFO CONSUMERS then answers NOGROUP), which is "not yet", not an error."""
    if not client.exists(FEED_STREAM):
        return False
    groups = [info["name"].decode() for info in client.xinfo_groups(FEED_STREAM)]
    return group in groups and len(client.xinfo_consumers(FEED_STREAM, group)) >= consumers


def in_order_per_order(envelopes: list[dict]) -> bool:
    """Each order's versions arrive 1, 2, 3… with no gap."""
    last: dict[str, int] = {}
    for envelope in envelopes:
        expected = last.get(envelope["aggregate_id"], 0) + 1
        if envelope["aggregate_version"] != expected:
            return False
        last[envelope["aggregate_id"]] = expected
    return True


class TailProcess:
    """`orderwire tail --group ...` as its own process; its printed envelopes are collected."""

    def __init__(self, redis_url: str, group: str, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orderwire.cli", "tail", "--group", group, *args],
            cwd=ROOT, env={**os.environ, "REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.envelopes: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.envelopes.append(json.loads(line))

    @property
    def ids(self) -> list[str]:
        return [envelope["id"] for envelope in self.envelopes]

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self._reader.join(10)

    def wait(self, timeout: float = 60) -> tuple[int, str]:
        self.process.wait(timeout)
        self._reader.join(10)
        assert self.process.stderr is not None
        return self.process.returncode, self.process.stderr.read()
