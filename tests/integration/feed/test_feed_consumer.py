"""The subscriber kit (orderwire.feed.consume) against a real Redis: each test has its own,
so a consumer group reading "from the start" sees only the test's events."""

import logging
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis

from orderwire.feed import FeedConsumer, consume, parked
from orderwire.feed.names import FEED_STREAM, handled_key
from orderwire.local_redis import PrivateRedis
from orderwire.outbox.publisher import RedisEventPublisher
from orderwire.redis_replies import pending_entries, stream_entries
from tests.feed_tools import (
    ROOT,
    TailProcess,
    an_event,
    feed_ids,
    in_order_per_order,
    joined,
    publish,
)
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.integration



def take(events: Iterator[dict], count: int) -> list[dict]:
    """The first `count` events of a consume loop, each handled (acknowledged) in turn."""
    taken = []
    for event in events:
        taken.append(event)
        if len(taken) == count:
            break
    return taken


def fast(client: redis.Redis, group: str, **options: Any) -> FeedConsumer:
    options.setdefault("block", timedelta(milliseconds=100))
    return FeedConsumer(client, group, **options)


def pending(client: redis.Redis, group: str) -> int:
    return client.xpending(FEED_STREAM, group)["pending"]


def test_a_group_gets_every_event_in_order_and_acknowledges_each_once_handled(
    client: redis.Redis,
) -> None:
    published = publish(client, 30)
    consumer = fast(client, "billing", batch=7)

    events = consumer.events()
    handled = take(events, 30)
    events.close()

    assert [event["id"] for event in handled] == published
    assert in_order_per_order(handled)
    # The 30th was handed out when the loop stopped: only it waits for its acknowledgement.
    assert pending(client, "billing") == 1
    consumer.ack_current()
    assert pending(client, "billing") == 0


def test_a_restarted_group_goes_on_where_it_stopped(client: redis.Redis) -> None:
    published = publish(client, 20)
    first = fast(client, "billing")
    take(first.events(), 12)
    first.ack_current()
    later = publish(client, 5)

    again = take(fast(client, "billing").events(), 13)

    assert [event["id"] for event in again] == published[12:] + later


def test_a_group_created_from_now_skips_what_the_feed_held_before(client: redis.Redis) -> None:
    publish(client, 10)
    events = fast(client, "search", start="$").events()
    reader = threading.Thread(target=lambda: seen.extend(take(events, 3)), daemon=True)
    seen: list[dict] = []
    reader.start()
    wait_for(lambda: client.xinfo_groups(FEED_STREAM), what="the group to exist")
    later = publish(client, 3)
    reader.join(15)
    assert [event["id"] for event in seen] == later


def test_only_the_types_asked_for_reach_the_body_and_the_others_are_acknowledged(
    client: redis.Redis,
) -> None:
    publish(client, 6)  # OrderPaid
    shipped = an_event(str(uuid.uuid4()), 1, "OrderShipped")
    RedisEventPublisher(client).publish([shipped])
    consumer = fast(client, "shipping", types={"OrderShipped"})

    [event] = take(consumer.events(), 1)
    consumer.ack_current()

    assert event["id"] == shipped.event_id
    assert pending(client, "shipping") == 0


def test_an_event_whose_body_raised_comes_again_when_the_loop_is_entered_again(
    client: redis.Redis,
) -> None:
    published = publish(client, 3)
    consumer = fast(client, "billing")
    with pytest.raises(RuntimeError):
        for event in consumer.events():
            if event["id"] == published[1]:
                raise RuntimeError("the payment service is down")

    retried = take(consumer.events(), 2)

    assert [event["id"] for event in retried] == published[1:]


def test_an_event_that_keeps_failing_is_parked_and_the_group_moves_on(
    client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    published = publish(client, 3)
    poison = published[1]
    consumer = fast(client, "billing", max_deliveries=3)
    attempts = 0
    handled = []
    for _ in range(3):  # the service's supervisor restarting its loop after each failure
        with pytest.raises(RuntimeError):
            for event in consumer.events():
                if event["id"] == poison:
                    attempts += 1
                    raise RuntimeError("cannot book this one")
                handled.append(event["id"])

    with caplog.at_level(logging.ERROR, logger="orderwire.feed"):
        [last] = take(consumer.events(), 1)
    consumer.ack_current()

    assert attempts == 3
    assert [*handled, last["id"]] == [published[0], published[2]]
    [item] = parked(client, "billing")
    assert item["envelope"]["id"] == poison and item["deliveries"] == 3
    assert pending(client, "billing") == 0
    assert f"event {poison}" in caplog.text and "parked" in caplog.text


def test_an_event_appended_twice_is_handed_over_once(client: redis.Redis) -> None:
    [event_id] = publish(client, 1)
    [(_, fields)] = stream_entries(client.xrange(FEED_STREAM))
    client.xadd(FEED_STREAM, {"envelope": fields[b"envelope"]})  # as a rebuild after a trim
    later = publish(client, 1)
    consumer = fast(client, "billing")

    handled = take(consumer.events(), 2)
    consumer.ack_current()

    assert [event["id"] for event in handled] == [event_id, *later]
    assert pending(client, "billing") == 0
    assert client.zscore(handled_key("billing"), event_id) is not None


def test_an_entry_trimmed_before_it_was_handled_is_acknowledged_and_reported(
    client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    publish(client, 4)
    dead = fast(client, "billing", consumer="dead")
    take(dead.events(), 1)  # read a batch of 4, handled none: all 4 pending for "dead"
    client.xtrim(FEED_STREAM, maxlen=0)  # the feed trimmed under a group far behind
    later = publish(client, 1)
    heir = fast(client, "billing", consumer="heir", claim_idle=timedelta(milliseconds=100))
    wait_for(
        lambda: all(
            entry["time_since_delivered"] > 100
            for entry in pending_entries(
                client.xpending_range(FEED_STREAM, "billing", "-", "+", 10)
            )
        ),
        what="the dead consumer's entries to be idle long enough to be claimed",
    )

    with caplog.at_level(logging.ERROR, logger="orderwire.feed"):
        [event] = take(heir.events(), 1)
    heir.ack_current()

    assert event["id"] == later[0]
    assert pending(client, "billing") == 0
    assert caplog.text.count("trimmed or unreadable") == 4


def test_bad_group_names_and_options_are_refused(client: redis.Redis) -> None:
    for bad in ("", "two words"):
        with pytest.raises(ValueError, match="group"):
            FeedConsumer(client, bad)
    with pytest.raises(ValueError, match="max_deliveries"):
        FeedConsumer(client, "billing", max_deliveries=1)


def test_two_consumers_in_one_group_split_the_work(own_redis: PrivateRedis) -> None:
    client = redis.Redis.from_url(own_redis.url)
    first = TailProcess(own_redis.url, "index", "--consumer", "one")
    second = TailProcess(own_redis.url, "index", "--consumer", "two")
    try:
        wait_for(
            lambda: joined(client, "index", consumers=2),
            timeout=30, what="both consumers to join the group",
        )
        published = publish(client, 200)
        wait_for(lambda: len(first.ids) + len(second.ids) >= 200, timeout=30,
                 what="every event to be printed")
    finally:
        first.kill()
        second.kill()
    assert first.ids and second.ids
    assert not set(first.ids) & set(second.ids)
    assert sorted(first.ids + second.ids) == sorted(published)


SLOW_CONSUMER = """
import sys, time
from datetime import timedelta
from orderwire.feed import consume
for event in consume("billing", consumer="slow", batch=50, block=timedelta(milliseconds=100)):
    print(event["id"], flush=True)
    time.sleep(0.05)  # the service's own work on each event
"""


def test_a_consumer_killed_mid_batch_loses_nothing_its_pending_entries_are_claimed(
    own_redis: PrivateRedis,
) -> None:
    client = redis.Redis.from_url(own_redis.url)
    published = publish(client, 120)
    slow = subprocess.Popen(
        [sys.executable, "-c", SLOW_CONSUMER], cwd=ROOT, text=True,
        env={"REDIS_URL": own_redis.url, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert slow.stdout is not None
    handled_by_slow = [slow.stdout.readline().strip() for _ in range(10)]
    slow.kill()
    slow.wait()
    handled_by_slow += slow.stdout.read().split()  # printed before the kill, not yet read
    left_pending = pending(client, "billing")
    assert left_pending >= 30  # killed in the middle of a batch of 50

    heir = TailProcess(own_redis.url, "billing", "--consumer", "heir", "--claim-after", "1")
    try:
        wait_for(lambda: set(heir.ids) | set(handled_by_slow) >= set(published), timeout=60,
                 what="the heir to print what the killed consumer left")
    finally:
        heir.kill()

    assert sorted(set(heir.ids) | set(handled_by_slow)) == sorted(published)
    # At least once: only the event being handled at the kill may come twice.
    assert len(set(heir.ids) & set(handled_by_slow)) <= 1
    assert len(heir.ids) == len(set(heir.ids))
    assert pending(client, "billing") <= 1  # the heir's last one, printed as it was killed


def test_redis_restarted_with_aof_loses_nothing_it_acknowledged(
    own_redis: PrivateRedis, client: redis.Redis
) -> None:
    before = publish(client, 40)
    consumer = fast(client, "billing", reconnect_delay=0.05)
    events = consumer.events()
    first_part = take(events, 25)
    consumer.ack_current()

    own_redis.kill()  # a crash: no shutdown, no final save; the AOF is all there is
    own_redis.start()
    assert feed_ids(client) == before  # every appended event is still there
    # The group kept its acknowledgements: only the 15 read and not yet handled are pending.
    feed_positions = [stream_id for stream_id, _ in stream_entries(client.xrange(FEED_STREAM))]
    still_pending = client.xpending_range(FEED_STREAM, "billing", "-", "+", 100)
    assert [entry["message_id"] for entry in still_pending] == feed_positions[25:]
    after = publish(client, 10)  # the publishing script is loaded again by the publisher

    rest = take(events, 25)

    handled = [event["id"] for event in first_part + rest]
    assert handled == before + after
    assert in_order_per_order(first_part + rest)


def test_a_loop_goes_on_through_a_redis_restart(
    own_redis: PrivateRedis, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orderwire.feed")
    before = publish(client, 5)
    consumer = fast(client, "billing", reconnect_delay=0.05)
    handled: list[str] = []
    done = threading.Event()

    def run() -> None:
        for event in consumer.events():
            handled.append(event["id"])
            if len(handled) == 10:
                consumer.ack_current()
                done.set()
                return

    reader = threading.Thread(target=run, daemon=True)
    reader.start()
    wait_for(lambda: len(handled) == 5, what="the first five")
    own_redis.kill()
    own_redis.start()
    after = publish(client, 5)
    assert done.wait(30), handled
    assert handled == before + after
    said = [getattr(record, "event", None) for record in caplog.records]
    assert said.count("redis.lost") == said.count("redis.reconnected") == 1, said


def test_a_group_redis_lost_is_created_again_from_what_the_feed_holds(
    client: redis.Redis,
) -> None:
    first = publish(client, 3)
    consumer = fast(client, "billing", reconnect_delay=0.05)
    events = consumer.events()
    take(events, 3)
    consumer.ack_current()
    client.flushall()  # a Redis without persistence, restarted
    again = publish(client, 2)

    rest = take(events, 2)

    assert [event["id"] for event in rest] == again
    assert not set(first) & {event["id"] for event in rest}


def test_consume_reads_redis_url_and_types(
    own_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis.Redis.from_url(own_redis.url)
    publish(client, 2)
    monkeypatch.setenv("REDIS_URL", own_redis.url)
    events = consume("audit", types={"OrderPaid"}, block=timedelta(milliseconds=100))
    assert [event["type"] for event in take(events, 2)] == ["OrderPaid", "OrderPaid"]
