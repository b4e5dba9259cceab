"""The example service of docs/events.md ("An example service"), run as written against a
real Redis: it books each paid order once, and ignores other event types."""

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

from orderwire.feed.names import FEED_STREAM
from orderwire.local_redis import PrivateRedis
from orderwire.outbox.publisher import RedisEventPublisher
from orderwire.redis_replies import stream_entries
from tests.feed_tools import ROOT, an_event
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.integration



def documented_service() -> str:
    doc = (ROOT / "docs" / "events.md").read_text()
    section = doc.split("### An example service", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def booked(database: Path) -> list[tuple[str, str, str]]:
    if not database.exists():
        return []
    with sqlite3.connect(database) as connection:
        try:
            return connection.execute("SELECT * FROM payments ORDER BY rowid").fetchall()
        except sqlite3.OperationalError:  # the table is not there yet
            return []


def test_the_documented_billing_service_books_each_paid_order_once(
    own_redis: PrivateRedis, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(own_redis.url)
    order_ids = [str(uuid.uuid4()) for _ in range(3)]
    paid = [an_event(order_id, 2, "OrderPaid") for order_id in order_ids]
    shipped = an_event(order_ids[0], 3, "OrderShipped")
    publisher = RedisEventPublisher(client)
    publisher.publish([*paid, shipped])
    publisher.publish(paid)  # published again (a relay crash): appended once all the same
    [(_, fields)] = stream_entries(client.xrange(FEED_STREAM, count=1))
    client.xadd(FEED_STREAM, {"envelope": fields[b"envelope"]})  # a copy, as after a rebuild

    service = subprocess.Popen(
        [sys.executable, "-c", documented_service()], cwd=tmp_path,
        env={**os.environ, "REDIS_URL": own_redis.url, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(lambda: len(booked(tmp_path / "billing.db")) >= 3, timeout=30,
                 what="three payments booked")
        # Everything in the feed has been dealt with: nothing pending, nothing left to read.
        wait_for(lambda: client.xinfo_groups(FEED_STREAM)[0]["pending"] == 0
                 and client.xinfo_groups(FEED_STREAM)[0]["last-delivered-id"]
                 == stream_entries(client.xrevrange(FEED_STREAM, count=1))[0][0],
                 timeout=30, what="the service to acknowledge the whole feed")
    finally:
        service.kill()
        _, err = service.communicate(timeout=10)

    expected = [(event.event_id, event.aggregate_id, "12.50") for event in paid]
    assert booked(tmp_path / "billing.db") == expected, err
