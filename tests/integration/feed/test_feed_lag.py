"""A feed that falls behind is visible: per-group lag and pending on /metrics, and the
relay's warning when a group's position is about to be trimmed away."""

import json
import logging
import threading
from datetime import timedelta

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, update

from orderwire.bootstrap import Orderwire
from orderwire.db.engine import utcnow
from orderwire.db.tables import events
from orderwire.feed import FeedConsumer
from orderwire.feed.groups import FeedWatch, read_feed_state
from orderwire.local_redis import PrivateRedis
from tests.feed_tools import publish
from tests.integration.event_helpers import closed_redis_url, orderwire_on
from tools.harness.waiting import wait_for
from web import create_app

pytestmark = pytest.mark.integration



def handle(client: redis.Redis, group: str, count: int) -> None:
    """A consumer of `group` that reads one batch and handles `count` events of it."""
    consumer = FeedConsumer(client, group, batch=10, block=timedelta(milliseconds=100))
    for handled, _ in enumerate(consumer.events(), start=1):
        if handled == count:
            consumer.ack_current()
            return


def test_each_group_s_lag_and_pending_are_read_from_redis(client: redis.Redis) -> None:
    publish(client, 25)
    handle(client, "billing", 4)  # read 10, handled 4: 6 pending, 15 not yet delivered
    handle(client, "search", 25)

    state = read_feed_state(client)

    groups = {group.name: group for group in state.groups}
    assert state.length == 25
    assert (groups["billing"].pending, groups["billing"].lag) == (6, 15)
    assert groups["billing"].oldest_unhandled_seconds > 0
    assert (groups["search"].pending, groups["search"].lag) == (0, 0)
    assert groups["search"].oldest_unhandled_seconds == 0
    assert not groups["billing"].lost_entries


def test_no_feed_yet_is_an_empty_state(client: redis.Redis) -> None:
    assert read_feed_state(client).length == 0
    assert read_feed_state(client).groups == []


def test_a_group_losing_pending_entries_to_trimming_is_reported(client: redis.Redis) -> None:
    publish(client, 10)
    handle(client, "billing", 1)  # 9 pending
    client.xtrim("orderwire:events", maxlen=0)
    publish(client, 1)
    [group] = read_feed_state(client).groups
    assert group.lost_entries


def test_the_relay_warns_when_a_group_is_about_to_be_trimmed_away(
    client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    publish(client, 100)
    handle(client, "billing", 100)
    handle(client, "search", 10)  # 90 behind

    with caplog.at_level(logging.WARNING, logger="orderwire.feed"):
        warned = FeedWatch(client, maxlen=100).check()

    assert warned == ["search"]
    assert "feed group search is 90 entries behind" in caplog.text
    assert "about to be trimmed" in caplog.text
    assert FeedWatch(client, maxlen=1000).check() == []


def test_the_relay_says_louder_when_a_group_already_lost_entries(
    client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    publish(client, 10)
    handle(client, "billing", 1)
    client.xtrim("orderwire:events", maxlen=0)
    publish(client, 1)
    with caplog.at_level(logging.ERROR, logger="orderwire.feed"):
        assert FeedWatch(client, maxlen=1000).check() == ["billing"]
    assert "lost entries it had not handled" in caplog.text


def scrape(services: Orderwire) -> dict[tuple[str, str], float]:
    answer = create_app(services.settings, services=services).test_client().get("/metrics")
    assert answer.status_code == 200
    return {
        (sample.name, sample.labels.get("group", "")): sample.value
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
        for sample in family.samples
        if sample.name.startswith("orderwire_feed")
    }


def test_metrics_show_each_group_s_lag_pending_and_parked(
    engine: Engine, database_url: str, own_redis: PrivateRedis, client: redis.Redis
) -> None:
    publish(client, 25)
    handle(client, "billing", 4)

    samples = scrape(orderwire_on(engine, database_url, own_redis.url))

    assert samples[("orderwire_feed_entries", "")] == 25
    assert samples[("orderwire_feed_maxlen", "")] == 1_000_000
    assert samples[("orderwire_feed_group_lag", "billing")] == 15
    assert samples[("orderwire_feed_group_pending", "billing")] == 6
    assert samples[("orderwire_feed_group_parked", "billing")] == 0
    assert samples[("orderwire_feed_group_consumers", "billing")] == 1
    assert samples[("orderwire_feed_group_oldest_unhandled_seconds", "billing")] >= 0


def test_metrics_answer_without_the_feed_while_redis_is_down(
    engine: Engine, database_url: str
) -> None:
    services = orderwire_on(engine, database_url, closed_redis_url())
    assert scrape(services) == {}


def test_feed_status_and_parked_print_what_an_operator_needs(
    own_redis: PrivateRedis, client: redis.Redis, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from orderwire import cli

    published = publish(client, 5)
    handle(client, "billing", 2)
    client.xadd("orderwire:feed:billing:parked", {
        "envelope": '{"id": "e-1", "type": "OrderPaid"}', "feed_id": "1-0", "deliveries": 5,
        "consumer": "c",
    })
    monkeypatch.setenv("REDIS_URL", own_redis.url)

    assert cli.main(["feed", "status"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["entries"] == len(published) and status["maxlen"] == 1_000_000
    [group] = status["groups"]
    assert (group["name"], group["pending"], group["lag"], group["parked"]) == ("billing", 3, 0, 1)

    assert cli.main(["feed", "parked", "--group", "billing"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["envelope"]["id"] == "e-1" and json.loads(line)["deliveries"] == 5


def test_the_relay_process_runs_the_feed_watch(
    engine: Engine, database_url: str, own_redis: PrivateRedis, client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from dataclasses import replace

    from orderwire.feed import ensure_group
    from orderwire.relay_process import run_relay

    services = orderwire_on(engine, database_url, own_redis.url)
    services.settings = replace(services.settings, feed_maxlen=1000)
    # On PostgreSQL the outbox is shared with earlier tests, whose fast-path events wait for
    # a relay to mark them: this relay would publish them into this feed too. Mark them.
    with engine.begin() as connection:
        connection.execute(
            update(events).where(events.c.published_at.is_(None)).values(published_at=utcnow())
        )
    ensure_group(client, "slow")  # created at the start, never read
    publish(client, 900)
    stop = threading.Event()
    relay = threading.Thread(
        target=run_relay, args=(services,), kwargs={"stop": stop, "feed_watch_every": 0.1},
        daemon=True,
    )
    with caplog.at_level(logging.WARNING, logger="orderwire.feed"):
        relay.start()
        try:
            wait_for(lambda: "feed group slow is 900 entries behind" in caplog.text,
                     what="the relay's warning")
        finally:
            stop.set()
            relay.join(15)
    assert not relay.is_alive()
