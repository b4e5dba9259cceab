"""The durable feed's writing side: every published event is appended once to
`orderwire:events`, field `envelope`, in commit order per order, trimmed to about
ORDERWIRE_FEED_MAXLEN entries."""

import json
from dataclasses import replace

import pytest
import redis
from sqlalchemy import Engine, select

from orderwire.db.tables import events
from orderwire.feed.names import FEED_STREAM
from orderwire.local_redis import PrivateRedis
from orderwire.outbox.publisher import RedisEventPublisher
from orderwire.redis_replies import stream_entries
from tests.feed_tools import an_event, feed_ids, in_order_per_order, publish
from tests.integration.event_helpers import a_session, orderwire_on, place, run_command

pytestmark = pytest.mark.integration



def test_an_event_published_twice_is_appended_to_the_feed_once(client: redis.Redis) -> None:
    with_audience = an_event("order-1", 1)
    publisher = RedisEventPublisher(client)
    publisher.publish([with_audience])
    publisher.publish([with_audience])

    [(_, fields)] = stream_entries(client.xrange(FEED_STREAM))
    assert list(fields) == [b"envelope"]
    assert fields[b"envelope"].decode() == with_audience.envelope


def test_an_event_for_nobody_s_page_is_in_the_feed_all_the_same(client: redis.Redis) -> None:
    for_nobody = replace(an_event("order-3", 1), audience=())
    publisher = RedisEventPublisher(client)
    publisher.publish([for_nobody])
    publisher.publish([for_nobody])

    assert feed_ids(client) == [for_nobody.event_id]


def test_the_feed_keeps_at_least_its_maxlen_newest_entries_and_not_many_more(
    client: redis.Redis,
) -> None:
    published = publish(client, 3000, feed_maxlen=1000)

    kept = feed_ids(client)
    assert 1000 <= len(kept) <= 1100  # trimming is by whole stream nodes (100 entries each)
    assert kept == published[-len(kept) :]


def test_a_command_s_events_reach_the_feed_in_commit_order_per_order(
    engine: Engine, database_url: str, own_redis: PrivateRedis, client: redis.Redis
) -> None:
    services = orderwire_on(engine, database_url, own_redis.url)
    session = a_session()
    committed: list[str] = []  # event ids, in commit order
    for _ in range(3):
        order_id, placed = place(services, session)
        committed += placed
        for command in ("PayOrder", "ShipOrder"):
            outcome = run_command(services, command, {"order_id": order_id}, session)
            assert outcome.status == "succeeded", outcome
            committed += outcome.event_ids

    in_feed = [
        json.loads(fields[b"envelope"])
        for _, fields in stream_entries(client.xrange(FEED_STREAM))
    ]
    assert [envelope["id"] for envelope in in_feed] == committed
    assert in_order_per_order([e for e in in_feed if e["type"].startswith("Order")])
    with engine.connect() as connection:
        stored = dict(
            connection.execute(
                select(events.c.event_id, events.c.envelope).where(events.c.event_id.in_(committed))
            ).all()
        )
    assert [json.dumps(e, separators=(",", ":"), ensure_ascii=False) for e in in_feed] == [
        stored[event_id] for event_id in committed
    ]
