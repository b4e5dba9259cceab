"""Domain events end to end, on real processes (gunicorn, Celery workers, the relay, Redis): a
PSUBSCRIBE orderwire.events.* client sees every committed event, each order's in version order,
and a failing after-commit subscriber is retried by the relay without touching the command."""

import json
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from sqlalchemy import Engine, func, select

from orderwire.db.engine import make_engine
from orderwire.db.tables import (
    commands,
    events,
    parked_deliveries,
    sales_ledger,
    subscriber_positions,
)
from tests.conftest import POSTGRES_URL, database_backends
from tests.payloads import a_key, a_line, order_body
from tools.harness.databases import private_database
from tools.harness.listening import PatternListener
from tools.harness.system import System
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

FINAL = ("succeeded", "rejected", "failed")


TEA = a_line("tea", 2, "1.25")


@pytest.fixture(scope="module", params=database_backends())
def system(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    # A schema of its own on PostgreSQL, as in test_feed.py: the session's shared schema
    # holds other tests' unpublished events, which this system's relay would publish.
    configured = POSTGRES_URL if request.param == "postgresql" else None
    workdir = tmp_path_factory.mktemp("events")
    with (
        private_database(workdir, configured, "e2e") as database_url,
        System(workdir, database_url=database_url) as running,
    ):
        # A second worker node: commands on one order really run in different processes.
        running.start_worker("worker-b")
        running.wait_for_worker("worker-b")
        yield running


@pytest.fixture(scope="module")
def engine(system: System) -> Iterator[Engine]:
    engine = make_engine(system.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def listener(system: System) -> Iterator[PatternListener]:
    client = redis.Redis.from_url(system.redis.url)
    subscriber = PatternListener(client)
    yield subscriber
    subscriber.close()
    client.close()


def send(system: System, browser: requests.Session, path: str, body: dict) -> dict[str, Any]:
    answer = system.api(browser).post(path, body, key=a_key("ev"))
    assert answer.status_code == 202, answer.text
    return answer.json()


def send_all(
    system: System, browser: requests.Session, requests_: list[tuple[str, dict]]
) -> list[dict[str, Any]]:
    """POST them all at once, from several threads, as impatient clients would."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda item: send(system, browser, *item), requests_))


def wait_until_all_final(engine: Engine, request_ids: list[str], timeout: float = 120) -> None:
    def unfinished() -> int:
        with engine.connect() as connection:
            return connection.execute(
                select(func.count())
                .select_from(commands)
                .where(commands.c.request_id.in_(request_ids), commands.c.status.not_in(FINAL))
            ).scalar_one()

    wait_for(lambda: unfinished() == 0, timeout=timeout, what=f"{len(request_ids)} commands")


def committed_events(engine: Engine, request_ids: list[str]) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(events.c.envelope).where(events.c.request_id.in_(request_ids))
        ).scalars()
        return [json.loads(row) for row in rows]


def first_sightings(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a subscriber keeps: each id once, in arrival order (it drops redeliveries)."""
    seen: set[str] = set()
    kept = []
    for envelope in received:
        if envelope["id"] not in seen:
            seen.add(envelope["id"])
            kept.append(envelope)
    return kept


def test_each_orders_events_arrive_in_version_order_under_concurrent_commands(
    system: System, engine: Engine, listener: PatternListener
) -> None:
    browser = system.new_session()
    placed = send_all(system, browser, [("/api/orders", order_body("Ada", TEA)) for _ in range(6)])
    order_ids = [answer["order_id"] for answer in placed]
    wait_until_all_final(engine, [answer["request_id"] for answer in placed])
    racing = [
        (f"/api/orders/{order_id}/{action}", body)
        for order_id in order_ids
        for action, body in (
            ("pay", {}), ("cancel", {"reason": "race"}), ("ship", {}), ("pay", {}),
        )
    ]
    fired = send_all(system, browser, racing)
    request_ids = [answer["request_id"] for answer in placed + fired]
    wait_until_all_final(engine, request_ids)

    committed = committed_events(engine, request_ids)
    listener.wait_for_ids({event["id"] for event in committed}, timeout=60)

    versions: dict[str, list[int]] = defaultdict(list)
    for envelope in first_sightings(listener.received):
        if envelope["aggregate_id"] in order_ids:
            versions[envelope["aggregate_id"]].append(envelope["aggregate_version"])
    for order_id in order_ids:
        stored = system.api(browser).order(order_id)
        assert versions[order_id] == list(range(1, stored["version"] + 1)), order_id
        assert stored["version"] >= 2  # something raced with the placing's successor


def test_a_subscriber_sees_every_event_of_200_commands(
    system: System, engine: Engine, listener: PatternListener
) -> None:
    browser = system.new_session()
    orders = [("/api/orders", order_body(f"n{i}", TEA)) for i in range(50)]
    placed = send_all(system, browser, orders)
    wait_until_all_final(engine, [answer["request_id"] for answer in placed])
    follow_ups: list[tuple[str, dict[str, Any]]] = []
    for number, answer in enumerate(placed):
        order = f"/api/orders/{answer['order_id']}"
        follow_ups += [(f"{order}/pay", {}), (f"{order}/ship", {})]
        follow_ups.append((f"{order}/cancel", {"reason": "late"}) if number % 2 else (
            f"{order}/pay", {}))
    fired = send_all(system, browser, follow_ups)
    request_ids = [answer["request_id"] for answer in placed + fired]
    assert len(request_ids) == 200
    wait_until_all_final(engine, request_ids)

    committed = {event["id"]: event for event in committed_events(engine, request_ids)}
    listener.wait_for_ids(set(committed), timeout=90)

    received = {e["id"]: e for e in listener.received if e.get("request_id") in request_ids}
    assert set(received) == set(committed)
    assert all(received[event_id] == committed[event_id] for event_id in committed)
    # A success sets off its order event and a notification; a rejection its CommandRejected.
    with engine.connect() as connection:
        statuses = connection.execute(
            select(commands.c.status).where(commands.c.request_id.in_(request_ids))
        ).scalars().all()
    assert len(committed) == sum(2 if status == "succeeded" else 1 for status in statuses)


def test_a_failing_after_commit_subscriber_is_retried_by_the_relay_without_touching_the_command(
    tmp_path: Path,
) -> None:
    """The real sales-ledger subscriber fails in a first relay (fault point
    `subscriber.before`), which retries it with backoff; a healthy relay then books the
    payment once."""
    flaky = {"ORDERWIRE_FAULTS": "subscriber.before=raise"}
    with System(tmp_path, env=flaky) as system:
        engine = make_engine(system.database_url)
        browser = system.new_session()
        place = send(system, browser, "/api/orders", order_body("Ada", TEA))
        order_id = place["order_id"]
        system.api(browser).wait_until_final(place["request_id"])
        pay = send(system, browser, f"/api/orders/{order_id}/pay", {})["request_id"]

        assert system.api(browser).wait_until_final(pay)["status"] == "succeeded"
        order = system.api(browser).order(order_id)
        assert order["status"] == "paid"
        notes = browser.get(f"{system.base_url}/api/notifications", timeout=5).json()
        assert len(notes["notifications"]) == 2  # the in-transaction subscriber did its part

        relay_log = system.logs / "relay.log"
        wait_for(
            lambda: sum(
                "add_to_sales_ledger" in line and "retrying in" in line and "InjectedFault" in line
                for line in relay_log.read_text().splitlines()
            ) >= 2,
            timeout=60,
            what="the relay to retry the failing subscriber",
        )
        assert _ledger(engine) == (0, Decimal("0"))
        position, parked = _ledger_position(engine)
        assert position < _payment_seq(engine) and parked == 0  # waiting at it, not past it

        system.stop_process("relay")  # its failures are recorded in the database, not lost
        system.start_relay_process("healthy-relay", env={"ORDERWIRE_FAULTS": ""})

        wait_for(lambda: _ledger(engine) == (1, Decimal("2.50")), timeout=90,
                 what="the healthy relay to book the payment")
        wait_for(lambda: _ledger_position(engine)[0] >= _payment_seq(engine), timeout=30,
                 what="the ledger's position to move past the payment")
        assert _ledger_position(engine)[1] == 0
        assert system.api(browser).command(pay)["status"] == "succeeded"
        engine.dispose()


def _ledger(engine: Engine) -> tuple[int, Decimal]:
    with engine.connect() as connection:
        rows = connection.execute(select(sales_ledger.c.orders_paid, sales_ledger.c.revenue)).all()
    return sum(row[0] for row in rows), sum((Decimal(row[1]) for row in rows), Decimal("0"))


def _payment_seq(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(events.c.seq).where(events.c.type == "OrderPaid")
        ).scalar_one()


def _ledger_position(engine: Engine) -> tuple[int, int]:
    """(the sales ledger subscriber's position, how many events it parked)."""
    with engine.connect() as connection:
        position = connection.execute(
            select(subscriber_positions.c.position).where(
                subscriber_positions.c.subscriber == "add_to_sales_ledger"
            )
        ).scalar_one_or_none()
        parked = connection.execute(
            select(func.count()).select_from(parked_deliveries)
        ).scalar_one()
    return position or 0, parked
