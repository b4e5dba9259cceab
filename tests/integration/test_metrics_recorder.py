"""Recording metrics costs a command no Redis round trip: counts are added up in the process
and sent in the background, or ride in the pipeline that publishes events (real Redis)."""

import json
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
import redis

from orderwire.local_redis import free_port
from orderwire.metrics import ACCEPTED_KEY, END_TO_END, PUBLISHED_KEY, MetricsRecorder
from orderwire.outbox.store import OutboxEvent
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.integration


def accepted(client: redis.Redis, command: str) -> int:
    value = client.hget(ACCEPTED_KEY, json.dumps([command, "count"]))
    return int(value) if value is not None else 0


def test_a_count_is_kept_in_the_process_then_sent_by_the_flusher(
    redis_client: redis.Redis,
) -> None:
    recorder = MetricsRecorder(redis_client, flush_interval=0.2)
    command = f"Command{uuid.uuid4().hex[:8]}"  # a label no other test uses

    recorder.command_accepted(command)
    recorder.command_accepted(command)

    assert accepted(redis_client, command) == 0  # nothing was sent on the caller's path
    wait_for(lambda: accepted(redis_client, command) == 2, timeout=10, what="the flusher")


def test_a_flush_sends_everything_counted_at_once_and_nothing_twice(
    redis_client: redis.Redis,
) -> None:
    recorder = MetricsRecorder(redis_client, flush_interval=3600)
    command = f"Command{uuid.uuid4().hex[:8]}"
    recorder.command_accepted(command)
    recorder.command_finished(command, "succeeded", execution_seconds=0.01,
                              accepted_at=datetime.now(UTC))

    recorder.flush()
    recorder.flush()

    assert accepted(redis_client, command) == 1
    fields = redis_client.hgetall(END_TO_END.key)
    assert float(fields[json.dumps([command, "succeeded", "sum"]).encode()]) >= 0


def test_what_is_waiting_rides_in_the_publishing_pipeline(redis_client: redis.Redis) -> None:
    recorder = MetricsRecorder(redis_client, flush_interval=3600)
    command, kind = f"Command{uuid.uuid4().hex[:8]}", f"Event{uuid.uuid4().hex[:8]}"
    recorder.command_accepted(command)
    event = OutboxEvent(str(uuid.uuid4()), kind, "a", (), "{}")

    pipe = redis_client.pipeline(transaction=False)
    recorder.count_published([event, event], pipe)
    pipe.execute()

    assert accepted(redis_client, command) == 1
    assert redis_client.hget(PUBLISHED_KEY, json.dumps([kind, "count"])) == b"2"


def test_with_redis_down_recording_neither_fails_nor_waits() -> None:
    down = redis.Redis(port=free_port(), socket_connect_timeout=0.5)
    recorder = MetricsRecorder(down, flush_interval=0.05)

    started = time.perf_counter()
    for _ in range(100):
        recorder.command_accepted("PlaceOrder")
    assert time.perf_counter() - started < 0.5

    recorder.flush()  # dropped, not raised


def test_concurrent_counting_loses_nothing(redis_client: redis.Redis) -> None:
    recorder = MetricsRecorder(redis_client, flush_interval=0.01)
    command = f"Command{uuid.uuid4().hex[:8]}"

    def count() -> None:
        for _ in range(500):
            recorder.command_accepted(command)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    wait_for(lambda: accepted(redis_client, command) == 2000, timeout=10, what="every count")
