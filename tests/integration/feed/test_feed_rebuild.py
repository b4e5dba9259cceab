"""`orderwire feed rebuild --since`: the outbox gives a Redis that lost the feed its events
back, in order, once; SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import Engine, update

from orderwire import cli
from orderwire.db.tables import events
from orderwire.feed.names import FEED_STREAM
from orderwire.feed.rebuild import rebuild_feed
from orderwire.local_redis import PrivateRedis
from tests.feed_tools import feed_ids
from tests.integration.event_helpers import a_session, orderwire_on, place, run_command

pytestmark = pytest.mark.integration

AN_HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)



def some_orders(engine: Engine, database_url: str, redis_url: str) -> list[str]:
    """Three orders placed and paid; the ids of the events they set off, in commit order.
    (On PostgreSQL other tests' events share the table: each test looks at its own.)"""
    services = orderwire_on(engine, database_url, redis_url)
    session = a_session()
    event_ids = []
    for _ in range(3):
        order_id, placed = place(services, session)
        paid = run_command(services, "PayOrder", {"order_id": order_id}, session)
        assert paid.status == "succeeded"
        event_ids += placed + paid.event_ids
    # The workers' fast path published them; the relay marks them published in the outbox
    # (orderwire/outbox/relay.py), as it does continuously in production.
    while services.relay.mark_confirmed():
        pass
    return event_ids


ROOMY = 1_000_000


def in_feed(client: redis.Redis, ours: list[str]) -> list[str]:
    return [event_id for event_id in feed_ids(client) if event_id in set(ours)]


def test_a_feed_redis_lost_is_appended_again_in_commit_order_once(
    engine: Engine, database_url: str, own_redis: PrivateRedis, client: redis.Redis
) -> None:
    published = some_orders(engine, database_url, own_redis.url)
    assert feed_ids(client) == published
    client.flushall()

    # Room for every event of the hour: on PostgreSQL the schema is shared by the whole
    # session, and a feed trimmed below them would make the second rebuild append again.
    result = rebuild_feed(engine, client, AN_HOUR_AGO, maxlen=ROOMY)

    assert result.appended >= len(published) and result.already_there == 0
    assert in_feed(client, published) == published
    length = client.xlen(FEED_STREAM)
    again = rebuild_feed(engine, client, AN_HOUR_AGO, maxlen=ROOMY)
    assert (again.appended, again.already_there) == (0, length)
    assert client.xlen(FEED_STREAM) == length


def test_a_rebuild_over_a_feed_that_lost_nothing_appends_nothing(
    engine: Engine, database_url: str, own_redis: PrivateRedis, client: redis.Redis
) -> None:
    published = some_orders(engine, database_url, own_redis.url)
    rebuild_feed(engine, client, AN_HOUR_AGO, maxlen=1000)
    assert in_feed(client, published) == published  # each once


def test_a_rebuild_appends_only_events_since_its_time_and_only_published_ones(
    engine: Engine, database_url: str, own_redis: PrivateRedis, client: redis.Redis
) -> None:
    published = some_orders(engine, database_url, own_redis.url)
    old, unpublished = published[:2], published[2]
    with engine.begin() as connection:
        connection.execute(
            update(events).where(events.c.event_id.in_(old))
            .values(occurred_at=datetime.now(UTC) - timedelta(days=2))
        )
        connection.execute(
            update(events).where(events.c.event_id == unpublished).values(published_at=None)
        )
    client.delete(FEED_STREAM)

    rebuild_feed(engine, client, datetime.now(UTC) - timedelta(days=1), maxlen=1000)

    assert in_feed(client, published) == published[3:]


def test_the_rebuild_command_reports_what_it_did(
    engine: Engine, database_url: str, own_redis: PrivateRedis, client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    published = some_orders(engine, database_url, own_redis.url)
    client.flushall()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", own_redis.url)

    assert cli.main(["feed", "rebuild", "--since", "1h"]) == 0

    assert "orderwire feed rebuild: appended " in capsys.readouterr().out
    assert in_feed(client, published) == published


def test_the_rebuild_command_refuses_a_time_it_cannot_read_and_changes_nothing(
    engine: Engine, database_url: str, own_redis: PrivateRedis, client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", own_redis.url)
    assert cli.main(["feed", "rebuild", "--since", "last tuesday"]) == 2
    assert "--since must be an ISO 8601 time" in capsys.readouterr().err
    assert not client.exists(FEED_STREAM)
