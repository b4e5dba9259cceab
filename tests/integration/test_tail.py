"""`orderwire tail`, the reference subscriber, as a real process against a real Redis."""

import json
import os
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis

from domain.events import OrderPaid, OrderShipped
from orderwire.outbox.envelope import channel_for, dumps, make_envelope
from tests.payloads import a_key
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def an_envelope(event: OrderPaid | OrderShipped, version: int) -> dict[str, Any]:
    return make_envelope(
        event_id=str(uuid.uuid4()),
        event_type=event.name,
        occurred_at=datetime.now(UTC),
        request_id=a_key("r"),
        aggregate_id=event.order_id,
        aggregate_version=version,
        data=event.data(),
    )


def start_tail(redis_url: str, *, limit: int) -> subprocess.Popen[str]:
    """`orderwire tail --limit N` as its own process, as an operator would run it."""
    return subprocess.Popen(
        [sys.executable, "-m", "orderwire.cli", "tail", "--limit", str(limit)],
        cwd=ROOT,
        env={**os.environ, "REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def lines_as_printed(process: subprocess.Popen[str]) -> tuple[list[str], threading.Thread]:
    """The lines `process` prints, collected as they come by a thread reading its stdout."""
    lines: list[str] = []
    assert process.stdout is not None  # stdout=PIPE
    output = process.stdout
    reader = threading.Thread(target=lambda: lines.extend(output), daemon=True)
    reader.start()
    return lines, reader


def test_tail_prints_one_json_line_per_distinct_event_and_stops_at_its_limit(
    redis_server, redis_client: redis.Redis
) -> None:
    order_id = "6f1c2d5e-0000-4000-8000-000000000001"
    paid = an_envelope(OrderPaid(order_id=order_id, total=Decimal("12.5")), 2)
    shipped = an_envelope(OrderShipped(order_id=order_id), 3)
    patterns_before = redis_client.pubsub_numpat()
    tail = start_tail(redis_server.url, limit=2)
    try:
        wait_for(lambda: redis_client.pubsub_numpat() > patterns_before, timeout=30,
                 what="tail to PSUBSCRIBE")
        for envelope in (paid, paid, shipped):  # the same id twice: delivery is at least once
            redis_client.publish(channel_for(envelope["type"]), dumps(envelope))
        out, err = tail.communicate(timeout=30)
    finally:
        tail.kill()
        tail.wait()

    assert tail.returncode == 0, err
    assert [json.loads(line) for line in out.splitlines()] == [paid, shipped]


def documented_subscriber(redis_url: str) -> str:
    """The redis-py example from docs/events.md, pointed at the test's Redis."""
    doc = (ROOT / "docs" / "events.md").read_text()
    section = doc.split("## 7.", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "redis://127.0.0.1:6379/0" in code
    return code.replace("redis://127.0.0.1:6379/0", redis_url)


def test_the_documented_subscriber_example_prints_each_event_once(
    redis_server, redis_client: redis.Redis
) -> None:
    order_id = "6f1c2d5e-0000-4000-8000-000000000002"
    paid = an_envelope(OrderPaid(order_id=order_id, total=Decimal("3")), 2)
    shipped = an_envelope(OrderShipped(order_id=order_id), 3)
    patterns_before = redis_client.pubsub_numpat()
    example = subprocess.Popen(
        [sys.executable, "-u", "-c", documented_subscriber(redis_server.url)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines, reader = lines_as_printed(example)
    try:
        wait_for(lambda: redis_client.pubsub_numpat() > patterns_before, timeout=30,
                 what="the example to PSUBSCRIBE")
        for envelope in (paid, paid, shipped):
            redis_client.publish(channel_for(envelope["type"]), dumps(envelope))
        wait_for(lambda: len(lines) >= 2, timeout=30, what="two printed events")
    finally:
        example.kill()
        example.wait()
        reader.join(10)

    assert [line.split()[:3] for line in lines] == [
        ["OrderPaid", order_id, "2"],
        ["OrderShipped", order_id, "3"],
    ]


def test_tail_survives_a_redis_restart_and_goes_on_printing(tmp_path: Path) -> None:
    from orderwire.local_redis import PrivateRedis

    server = PrivateRedis(tmp_path / "redis").start()
    client = redis.Redis.from_url(server.url)
    order_id = "6f1c2d5e-0000-4000-8000-000000000002"
    before = an_envelope(OrderShipped(order_id=order_id), 3)
    after = an_envelope(OrderShipped(order_id=order_id), 4)
    tail = start_tail(server.url, limit=2)
    lines, reader = lines_as_printed(tail)
    try:
        wait_for(lambda: client.pubsub_numpat() == 1, timeout=30, what="tail to PSUBSCRIBE")
        client.publish(channel_for(before["type"]), dumps(before))
        # PUBLISH answers the publisher before Redis has necessarily written the
        # message to the subscriber's socket; a kill in between loses it (pub/sub
        # keeps nothing), so the restart waits until tail has printed it.
        wait_for(lambda: len(lines) == 1, timeout=30, what="tail to print the first event")
        server.kill()
        server.start()
        client = redis.Redis.from_url(server.url)
        wait_for(lambda: client.pubsub_numpat() == 1, timeout=30, what="tail to come back")
        client.publish(channel_for(after["type"]), dumps(after))
        tail.wait(timeout=30)
        reader.join(10)
        assert tail.stderr is not None  # stderr=PIPE
        err = tail.stderr.read()
    finally:
        tail.kill()
        tail.wait()
        server.stop()
    assert tail.returncode == 0, err
    assert [json.loads(line)["id"] for line in lines] == [before["id"], after["id"]]
    assert "Redis unreachable" in err
    assert err.count("orderwire tail: reconnected to Redis") == 1
