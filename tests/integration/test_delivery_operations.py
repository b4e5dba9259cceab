"""Subscriber delivery as an operator meets it, with the real registry's sales-ledger
subscribers: `orderwire deliveries` (status, parked, redrive) as a process, the gauges on
`GET /metrics`, and the real `orderwire relay` killed between a subscriber's effect and its
commit. SQLite and PostgreSQL, real Redis."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Connection, Engine

from orderwire import registry
from orderwire.bootstrap import Orderwire
from orderwire.local_redis import PrivateRedis
from orderwire.outbox.deliveries import store
from orderwire.outbox.deliveries.delivery import SubscriberDelivery
from orderwire.outbox.deliveries.store import StoredEvent
from orderwire.outbox.deliveries.subscriptions import Subscription
from tests.integration.delivery_helpers import (
    FlakyUpstream,
    booked_since,
    caught_up,
    ledger,
    paid_order,
    position_of,
    seq_of,
)
from tests.integration.event_helpers import orderwire_on, relay_process
from tools.harness.waiting import wait_for
from web import create_app

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LEDGER = "add_to_sales_ledger"


@pytest.fixture
def services(engine: Engine, database_url: str, redis_server: PrivateRedis) -> Orderwire:
    services = orderwire_on(
        engine, database_url, redis_server.url,
        after_commit_subscribers=registry.AFTER_COMMIT_SUBSCRIBERS,
    )
    # The registry's names are shared by every test of the session: start them caught up.
    caught_up(engine, *services.subscriptions)
    return services


def orderwire(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "ORDERWIRE_ENV": "test",
           "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "orderwire.cli", "deliveries", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


def park_a_payment(services: Orderwire) -> str:
    """Pay an order while the ledger's upstream is down, until the payment is parked."""

    def down(envelope: dict[str, Any], connection: Connection) -> None:
        raise FlakyUpstream("ledger database is read-only")

    failing = Subscription(LEDGER, down, frozenset({"OrderPaid"}))
    event_id = paid_order(services)[2]
    SubscriberDelivery(services.engine, [failing], max_attempts=1).deliver()
    return event_id


def gauges(services: Orderwire) -> dict[tuple[str, str], float]:
    answer = create_app(services.settings, services=services).test_client().get("/metrics")
    assert answer.status_code == 200
    found = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        if family.name.startswith("orderwire_subscriber_"):
            for sample in family.samples:
                found[(sample.name, sample.labels["subscriber"])] = sample.value
    return found


def test_an_operator_sees_a_parked_payment_and_redrives_it_once(
    services, engine: Engine, database_url: str
) -> None:
    before = ledger(engine)
    event_id = park_a_payment(services)

    parked = orderwire(database_url, "parked", "--subscriber", LEDGER)
    assert parked.returncode == 0, parked.stderr
    [line] = [json.loads(line) for line in parked.stdout.splitlines()]
    assert (line["subscriber"], line["event_id"], line["type"]) == (LEDGER, event_id, "OrderPaid")
    assert line["attempts"] == 1
    assert line["last_error"] == "FlakyUpstream: ledger database is read-only"
    status = json.loads(orderwire(database_url, "status").stdout)
    [ledger_status] = [s for s in status["subscribers"] if s["subscriber"] == LEDGER]
    assert (ledger_status["parked"], ledger_status["lag"]) == (1, 0)
    assert gauges(services)[("orderwire_subscriber_parked", LEDGER)] == 1

    redriven = orderwire(database_url, "redrive", event_id)
    assert redriven.returncode == 0, redriven.stderr
    assert json.loads(redriven.stdout)["outcome"] == "handled"
    assert booked_since(engine, before) == (1, Decimal("2.50"))
    assert orderwire(database_url, "parked", "--subscriber", LEDGER).stdout == ""
    assert gauges(services)[("orderwire_subscriber_parked", LEDGER)] == 0

    again = orderwire(database_url, "redrive", event_id)
    assert again.returncode == 2 and "is not parked" in again.stderr
    assert booked_since(engine, before) == (1, Decimal("2.50"))  # once, however often asked


def test_redrive_all_takes_every_parked_event_of_a_subscriber(
    services, engine: Engine, database_url: str
) -> None:
    before = ledger(engine)
    parked = {park_a_payment(services) for _ in range(2)}

    redriven = orderwire(database_url, "redrive", "--all", "--subscriber", LEDGER)

    assert redriven.returncode == 0, redriven.stderr
    results = [json.loads(line) for line in redriven.stdout.splitlines()]
    assert {result["event_id"] for result in results} == parked
    assert {result["outcome"] for result in results} == {"handled"}
    assert booked_since(engine, before) == (2, Decimal("5.00"))


def test_an_unknown_subscriber_is_refused_and_changes_nothing(
    services, engine: Engine, database_url: str
) -> None:
    event_id = park_a_payment(services)

    answer = orderwire(database_url, "redrive", "--all", "--subscriber", "nope")

    assert answer.returncode == 2
    assert "no subscriber named 'nope'" in answer.stderr and LEDGER in answer.stderr
    parked = orderwire(database_url, "parked", "--subscriber", LEDGER).stdout
    assert json.loads(parked)["event_id"] == event_id


def test_a_discarded_payment_is_recorded_with_its_reason_and_never_applied(
    services, engine: Engine, database_url: str
) -> None:
    before = ledger(engine)
    discarded_before = gauges(services)[("orderwire_subscriber_discarded", LEDGER)]
    event_id = park_a_payment(services)
    reason = "refunded by hand; the ledger must not book it"

    discarded = orderwire(database_url, "discard", event_id, "--reason", reason)

    assert discarded.returncode == 0, discarded.stderr
    assert json.loads(discarded.stdout) == {
        "subscriber": LEDGER, "event_id": event_id, "outcome": "discarded",
    }
    assert orderwire(database_url, "parked", "--subscriber", LEDGER).stdout == ""
    found = gauges(services)
    assert found[("orderwire_subscriber_parked", LEDGER)] == 0
    assert found[("orderwire_subscriber_discarded", LEDGER)] == discarded_before + 1
    status = json.loads(orderwire(database_url, "status").stdout)
    [ledger_status] = [s for s in status["subscribers"] if s["subscriber"] == LEDGER]
    assert (ledger_status["parked"], ledger_status["discarded"]) == (0, discarded_before + 1)
    listed = orderwire(database_url, "discarded", "--subscriber", LEDGER)
    [record] = [json.loads(line) for line in listed.stdout.splitlines()
                if json.loads(line)["event_id"] == event_id]
    assert (record["event_id"], record["type"], record["reason"]) == (event_id, "OrderPaid", reason)
    assert (record["attempts"], record["last_error"]) == (
        1, "FlakyUpstream: ledger database is read-only",
    )
    assert record["discarded_at"] >= record["parked_at"]

    SubscriberDelivery(engine, services.subscriptions).deliver()  # the relay's next round
    redriven = orderwire(database_url, "redrive", event_id)
    assert redriven.returncode == 2 and "is not parked" in redriven.stderr
    again = orderwire(database_url, "discard", event_id, "--reason", reason)
    assert again.returncode == 2 and "is not parked" in again.stderr
    assert booked_since(engine, before) == (0, Decimal(0))
    assert len(orderwire(database_url, "discarded").stdout.splitlines()) >= 1


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--reason", "   "], "--reason must say why"),
        (["--reason", "x" * 501], "at most 500"),
        (["--all", "--reason", "gone"], "--all needs --subscriber"),
    ],
)
def test_a_discard_without_a_usable_reason_or_scope_changes_nothing(
    services, database_url: str, args: list[str], problem: str
) -> None:
    event_id = park_a_payment(services)
    arguments = [event_id, *args] if "--all" not in args else args

    refused = orderwire(database_url, "discard", *arguments)

    assert refused.returncode == 2 and problem in refused.stderr
    parked = orderwire(database_url, "parked", "--subscriber", LEDGER).stdout
    assert event_id in {json.loads(line)["event_id"] for line in parked.splitlines()}
    assert event_id not in orderwire(database_url, "discarded").stdout


def test_what_a_subscriber_gone_from_the_code_left_parked_can_only_be_discarded(
    services, engine: Engine, database_url: str
) -> None:
    gone = "a_subscriber_since_removed"
    event_id = paid_order(services)[2]
    event = StoredEvent(seq_of(engine, event_id), event_id, "OrderPaid", datetime.now(UTC), None)
    with engine.begin() as connection:
        store.park(connection, gone, event, attempts=10, error="Timeout: upstream")

    redriven = orderwire(database_url, "redrive", event.event_id)
    assert redriven.returncode == 1
    assert json.loads(redriven.stdout)["outcome"] == "unknown subscriber"

    discarded = orderwire(database_url, "discard", "--all", "--subscriber", gone,
                          "--reason", "the subscriber was removed in 2.3")
    assert discarded.returncode == 0, discarded.stderr
    assert json.loads(discarded.stdout)["outcome"] == "discarded"
    assert orderwire(database_url, "parked", "--subscriber", LEDGER).returncode == 0
    assert event.event_id not in orderwire(database_url, "parked").stdout
    listed = orderwire(database_url, "discarded", "--subscriber", gone).stdout
    assert json.loads(listed)["reason"] == "the subscriber was removed in 2.3"


def test_lag_shows_what_a_subscriber_has_not_reached(services, engine: Engine) -> None:
    paid_order(services)
    paid_order(services)
    assert gauges(services)[("orderwire_subscriber_lag", LEDGER)] == 2

    services.deliveries.deliver()

    found = gauges(services)
    assert found[("orderwire_subscriber_lag", LEDGER)] == 0
    assert found[("orderwire_subscriber_failures", LEDGER)] == 0


def test_a_relay_killed_between_the_effect_and_its_commit_books_the_payment_once(
    services, engine: Engine, database_url: str, redis_server, tmp_path: Path
) -> None:
    before = ledger(engine)
    start = position_of(engine, LEDGER)["position"]
    event_id = paid_order(services)[2]
    log = tmp_path / "relay.log"

    crashing = relay_process(database_url, redis_server.url, log, "subscriber.after=crash")
    assert crashing.wait(timeout=60) == 137, log.read_text()
    assert "fault injected: subscriber.after=crash" in log.read_text()
    # the ledger's write died with the process
    assert booked_since(engine, before) == (0, Decimal(0))
    assert position_of(engine, LEDGER)["position"] == start

    healthy = relay_process(database_url, redis_server.url, log)
    try:
        wait_for(lambda: booked_since(engine, before) == (1, Decimal("2.50")), timeout=60,
                 what="the healthy relay to book the payment")
        wait_for(lambda: position_of(engine, LEDGER)["position"] >= seq_of(engine, event_id),
                 timeout=30, what="the relay to move the ledger's position past the payment")
    finally:
        healthy.terminate()
        assert healthy.wait(timeout=30) == 0
    assert booked_since(engine, before) == (1, Decimal("2.50"))
