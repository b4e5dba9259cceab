"""`GET /metrics`: commands run through the real pipeline show up in the Prometheus text.

Counters are compared before and after, so other tests' commands (the PostgreSQL schema
is shared by the session) never matter. Redis is this module's own.
"""

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from orderwire.bootstrap import Orderwire, bootstrap
from orderwire.config import Settings
from orderwire.local_redis import PrivateRedis, free_port
from orderwire.outbox.store import OutboxEvent
from orderwire.pipeline.retries import RetryPolicy
from tests.payloads import a_key, place_order_payload
from tests.recorded_commands import (
    command_id_of,
    record_command,
    recorded_command,
    stored_events,
)
from web import create_app

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    with PrivateRedis(tmp_path_factory.mktemp("metrics-redis")) as server:
        yield server


def wired(engine: Engine, database_url: str, redis_url: str, max_attempts: int = 1) -> Orderwire:
    settings = Settings.from_env(
        {"REDIS_URL": redis_url, "DATABASE_URL": database_url, "ORDERWIRE_ENV": "test"}
    )
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=0.5)
    return bootstrap(
        settings,
        engine=engine,
        redis_client=client,
        retry_policy=RetryPolicy(max_attempts=max_attempts, base_delay=0.01),
        after_commit_subscribers={},
    )


@pytest.fixture
def services(engine: Engine, database_url: str, own_redis: PrivateRedis) -> Orderwire:
    return wired(engine, database_url, own_redis.url)


def scrape(services: Orderwire) -> Samples:
    answer = create_app(services.settings, services=services).test_client().get("/metrics")
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str) -> float:
    return sum(found for (sample, _), found in samples.items() if sample == name)


def change(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def accepted_by_the_web(services: Orderwire, browser: FlaskClient, path: str, body: dict) -> str:
    """POST a command as a page would; returns its command id (nothing runs it yet)."""
    key = a_key("metrics")
    answer = browser.post(path, json=body, headers={"Idempotency-Key": key})
    assert answer.status_code == 202, answer.get_data(as_text=True)
    return command_id_of(services.engine, key)


def test_commands_are_counted_by_type_when_accepted_and_when_finished(
    services: Orderwire, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = scrape(services)
    browser = create_app(services.settings, services=services).test_client()
    placed = [
        accepted_by_the_web(services, browser, "/api/orders", place_order_payload())
        for _ in range(2)
    ]
    # Paid and shipped while the order is still being placed: the worker finds no order.
    order_id = recorded_command(services.engine, placed[0])["order_id"]
    rejected = accepted_by_the_web(services, browser, f"/api/orders/{order_id}/pay", {})
    failing = accepted_by_the_web(services, browser, f"/api/orders/{order_id}/ship", {})
    accepted = scrape(services)
    assert change(before, accepted, "orderwire_commands_accepted_total", command="PlaceOrder") == 2
    assert change(
        before, accepted, "orderwire_commands_unfinished", command="PlaceOrder", status="accepted"
    ) == 2
    for command_id in (rejected, *placed):
        services.execute(command_id)
    monkeypatch.setenv("ORDERWIRE_FAULTS", "handler.start=raise")
    assert str(services.execute(failing).status) == "failed"
    after = scrape(services)

    assert change(before, after, "orderwire_commands_accepted_total", command="PlaceOrder") == 2
    assert change(before, after, "orderwire_commands_accepted_total", command="PayOrder") == 1
    assert change(before, after, "orderwire_commands_accepted_total", command="ShipOrder") == 1
    finished = "orderwire_commands_finished_total"
    assert change(before, after, finished, command="PlaceOrder", status="succeeded") == 2
    assert change(before, after, finished, command="PayOrder", status="rejected") == 1
    assert change(before, after, finished, command="ShipOrder", status="failed") == 1
    assert change(before, after, finished, command="PlaceOrder", status="rejected") == 0
    assert change(
        before, after, "orderwire_commands_unfinished", command="PlaceOrder", status="accepted"
    ) == 0


def test_latency_histograms_count_each_finished_command_once(services: Orderwire) -> None:
    request_id = record_command(services.engine, "PlaceOrder", place_order_payload())
    before = scrape(services)
    services.execute(request_id)
    services.execute(request_id)  # a redelivery finds it finished: not measured again
    after = scrape(services)

    labels = {"command": "PlaceOrder", "status": "succeeded"}
    histograms = ("orderwire_command_end_to_end_seconds", "orderwire_command_execution_seconds")
    for histogram in histograms:
        assert change(before, after, f"{histogram}_count", **labels) == 1
        assert change(before, after, f"{histogram}_bucket", le="+Inf", **labels) == 1
        assert change(before, after, f"{histogram}_sum", **labels) > 0
    # Recording to execution took well under a minute, so it lands in the 60 s bucket.
    assert change(
        before, after, "orderwire_command_end_to_end_seconds_bucket", le="60.0", **labels
    ) == 1


def test_published_events_are_counted_by_type(services: Orderwire) -> None:
    before = scrape(services)
    request_id = record_command(services.engine, "PlaceOrder", place_order_payload())
    services.execute(request_id)
    after = scrape(services)

    published = [event["type"] for event in stored_events(services.engine, command_id=request_id)]
    assert "OrderPlaced" in published
    for event_type in set(published):
        assert change(
            before, after, "orderwire_events_published_total", type=event_type
        ) == published.count(event_type)


def test_queue_depth_counts_tasks_waiting_for_a_worker(services: Orderwire) -> None:
    before = scrape(services)
    services.queue.enqueue_command("PlaceOrder", a_key("queued"), str(uuid.uuid4()))
    after = scrape(services)

    assert change(before, after, "orderwire_queue_depth") == 1


def test_a_batch_counts_each_event_of_a_type(services: Orderwire) -> None:
    before = scrape(services)
    batch = [published_event(kind) for kind in ("OrderPlaced", "OrderPlaced", "OrderPaid")]
    services.relay.publish(batch)  # the publishing round trip counts them too
    after = scrape(services)

    assert change(before, after, "orderwire_events_published_total", type="OrderPlaced") == 2
    assert change(before, after, "orderwire_events_published_total", type="OrderPaid") == 1


def published_event(event_type: str) -> OutboxEvent:
    return OutboxEvent(str(uuid.uuid4()), event_type, str(uuid.uuid4()), (), "{}")


def test_events_left_unpublished_show_as_backlog_until_the_relay_publishes_them(
    services: Orderwire, engine: Engine, database_url: str
) -> None:
    down = wired(engine, database_url, f"redis://127.0.0.1:{free_port()}/0")
    before = scrape(down)
    request_id = record_command(engine, "PlaceOrder", place_order_payload())
    assert str(down.execute(request_id).status) == "succeeded"  # the fast path could not publish
    while_down = scrape(down)

    left = stored_events(engine, command_id=request_id)
    assert change(before, while_down, "orderwire_outbox_backlog") == len(left) > 0
    assert value(while_down, "orderwire_outbox_oldest_unpublished_seconds") >= 0
    assert value(while_down, "orderwire_dependency_up", dependency="database") == 1
    assert value(while_down, "orderwire_dependency_up", dependency="redis") == 0
    assert ("orderwire_queue_depth", frozenset()) not in while_down  # unknown, not a false 0

    services.relay.grace = timedelta(0)
    back_up = scrape(services)
    relayed = services.relay.publish_backlog()
    after = scrape(services)
    assert value(after, "orderwire_outbox_backlog") == 0
    assert relayed >= len(left)  # with any other test's leftovers in a shared schema
    assert total(after, "orderwire_events_published_total") - total(
        back_up, "orderwire_events_published_total"
    ) == relayed


def test_two_concurrent_deliveries_of_one_command_are_measured_once(
    engine: Engine, database_url: str, own_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each delivery counts an attempt; with a budget of one, the second could find it spent
    # and end the command `failed` before the first takes the row lock (an honest outcome,
    # but not the one this test is about).
    services = wired(engine, database_url, own_redis.url, max_attempts=3)
    request_id = record_command(services.engine, "PlaceOrder", place_order_payload())
    before = scrape(services)
    # The first delivery holds the command in its transaction for a moment; the second
    # has passed the duplicate check by then and finds the command finished later on.
    monkeypatch.setenv("ORDERWIRE_FAULTS", "handler.start=sleep:0.5")
    deliveries = [threading.Thread(target=services.execute, args=(request_id,)) for _ in range(2)]
    for delivery in deliveries:
        delivery.start()
    for delivery in deliveries:
        delivery.join(30)
    after = scrape(services)

    labels = {"command": "PlaceOrder", "status": "succeeded"}
    assert change(before, after, "orderwire_commands_finished_total", **labels) == 1
    assert change(before, after, "orderwire_command_end_to_end_seconds_count", **labels) == 1
    assert change(before, after, "orderwire_command_execution_seconds_count", **labels) == 1


def test_open_websockets_are_counted_by_the_web_process(services: Orderwire) -> None:
    app = create_app(services.settings, services=services)
    hub = app.extensions["live_hub"]
    connection = hub.register(a_key("session"))
    assert connection is not None
    try:
        answer = app.test_client().get("/metrics").get_data(as_text=True)
    finally:
        hub.unregister(connection)
        hub.shutdown()
    assert "orderwire_websocket_connections 1.0" in answer.splitlines()


def test_every_metric_has_help_text_and_parses(services: Orderwire, tmp_path: Path) -> None:
    answer = create_app(services.settings, services=services).test_client().get("/metrics")
    families = list(text_string_to_metric_families(answer.get_data(as_text=True)))
    ours = [family for family in families if family.name.startswith("orderwire_")]
    assert {family.name for family in ours} >= {
        "orderwire_commands_accepted",
        "orderwire_commands_finished",
        "orderwire_commands_unfinished",
        "orderwire_command_end_to_end_seconds",
        "orderwire_command_execution_seconds",
        "orderwire_events_published",
        "orderwire_outbox_backlog",
        "orderwire_outbox_oldest_unpublished_seconds",
        "orderwire_queue_depth",
        "orderwire_queue_unacked",
        "orderwire_websocket_connections",
        "orderwire_dependency_up",
    }
    assert all(family.documentation for family in ours)
