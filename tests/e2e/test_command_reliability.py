"""Commands are never lost, never run twice and never fail silently: on real processes.

One system (gunicorn, Celery worker, relay, Redis, SQLite) for the module. Its sweeper
is impatient, so that what it rescues is rescued within a test's patience: a command
still `accepted` after 1 s, or `running` after 3 s, is sent to Celery again.
"""

import json
import os
import signal
import threading
import uuid
from collections.abc import Iterator

import pytest
import requests
from celery import Celery
from sqlalchemy import Engine

from orderwire.config import Settings
from orderwire.db import command_log
from orderwire.db.command_log import NewCommand
from orderwire.db.engine import make_engine
from orderwire.task_queue import create_celery
from tests.e2e.reliability import (
    assert_placed_exactly_once,
    log_records,
    order_events,
    place,
    wait_inside_the_transaction,
)
from tests.live_tools import session_id_of
from tests.payloads import ORDER, a_key, a_line, order_body
from tools.harness.system import System
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.e2e


class WithWorkers(System):
    """The module's System, which keeps the names of the workers it runs, so that a test
    can replace them all."""

    workers: list[str]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WithWorkers]:
    env = {
        "ORDERWIRE_SWEEP_ACCEPTED_AFTER": "1",
        "ORDERWIRE_SWEEP_RUNNING_AFTER": "3",
        "ORDERWIRE_LEASE_RENEW_SECONDS": "1",  # a live worker renews well inside the 3 s
    }
    with WithWorkers(tmp_path_factory.mktemp("reliability"), env=env) as running:
        running.workers = ["worker"]
        yield running


@pytest.fixture(scope="module")
def database(system: WithWorkers) -> Iterator[Engine]:
    engine = make_engine(system.database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def celery(system: WithWorkers) -> Celery:
    return create_celery(
        Settings(redis_url=system.redis.url, database_url=system.database_url, secret_key="test")
    )


def replace_workers(system: WithWorkers, *, env: dict[str, str] | None = None,
                    concurrency: int | None = None) -> str:
    """Stop every worker (SIGTERM) and start one new one; returns its name."""
    for name in system.workers:
        system.stop_process(name)
    name = f"worker-{uuid.uuid4().hex[:6]}"
    system.start_worker(name, env=env, concurrency=concurrency)
    system.wait_for_worker(name)
    system.workers = [name]
    return name



def executions(system: WithWorkers, request_id: str) -> int:
    """How many times any worker ran this command through its pipeline (to the end)."""
    return sum(
        1
        for log in system.logs.glob("worker*.log")
        for record in log_records(system, log.stem)
        if record.get("event") == "command.finished" and record.get("request_id") == request_id
    )





def test_twenty_concurrent_posts_with_one_key_make_one_command_and_one_order(
    system: WithWorkers, database: Engine
) -> None:
    browser = system.new_session()
    key = a_key("e2e")
    start = threading.Barrier(20)
    answers: list[requests.Response] = []

    def send() -> None:
        start.wait()
        answers.append(
            requests.post(
                f"{system.base_url}/api/orders",
                data=json.dumps(ORDER),
                headers={"Content-Type": "application/json", "Idempotency-Key": key},
                cookies=browser.cookies,
                timeout=30,
            )
        )

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [answer.status_code for answer in answers] == [202] * 20
    assert {answer.json()["request_id"] for answer in answers} == {key}
    order_ids = {answer.json()["order_id"] for answer in answers}
    assert len(order_ids) == 1
    replayed = [answer.headers.get("Idempotent-Replayed") for answer in answers]
    assert replayed.count("true") == 19 and replayed.count(None) == 1

    assert system.api(browser).wait_until_final(key)["status"] == "succeeded"
    [order_id] = order_ids
    assert order_events(system, browser, order_id) == ["OrderPlaced"]
    assert_placed_exactly_once(database, order_id)


def test_the_same_task_delivered_twice_places_one_order(
    system: WithWorkers, database: Engine, celery: Celery
) -> None:
    browser = system.new_session()
    accepted = place(system, browser)
    key = accepted["request_id"]

    # A duplicate while the first delivery may still be running, and one after it finished.
    celery.send_task("orderwire.PlaceOrder", args=[key], task_id=key)
    assert system.api(browser).wait_until_final(key)["status"] == "succeeded"
    celery.send_task("orderwire.PlaceOrder", args=[key], task_id=key)

    wait_for(lambda: executions(system, key) >= 3, timeout=30, what="all three deliveries to run")
    status = system.api(browser).command(key)
    assert status["status"] == "succeeded" and status["attempts"] == 1
    assert order_events(system, browser, accepted["order_id"]) == ["OrderPlaced"]
    assert_placed_exactly_once(database, accepted["order_id"])


def test_a_command_recorded_but_never_enqueued_is_sent_by_the_sweeper(
    system: WithWorkers, database: Engine
) -> None:
    browser = system.new_session()
    key, order_id = a_key("e2e"), str(uuid.uuid4())
    payload = order_body("Grace Hopper", a_line("compiler", 1, "10.00"), order_id=order_id)
    with database.begin() as connection:  # as the web does before its 202, then "crashes"
        command_log.record(
            connection,
            NewCommand(key, "PlaceOrder", payload, uuid.uuid4().hex, session_id_of(browser),
                       order_id),
        )

    assert system.api(browser).wait_until_final(key, timeout=40)["status"] == "succeeded"
    assert order_events(system, browser, order_id) == ["OrderPlaced"]
    assert_placed_exactly_once(database, order_id)


def test_command_rejected_reaches_the_senders_websocket_when_shipping_an_unpaid_order(
    system: WithWorkers,
) -> None:
    browser = system.new_session()
    with system.websocket(browser) as live:
        accepted = place(system, browser)
        assert system.api(browser).wait_until_final(accepted["request_id"])["status"] == "succeeded"
        key = a_key("e2e")
        answer = system.api(browser).post(f"/api/orders/{accepted['order_id']}/ship", {}, key=key)
        assert answer.status_code == 202

        rejected = live.wait_for_event(
            lambda event: event["type"] == "CommandRejected" and event["request_id"] == key
        )

    assert rejected["data"] == {
        "command": "ShipOrder",
        "code": "order_not_paid",
        "message": "an order must be paid before it ships",
        "order_id": accepted["order_id"],
    }
    status = system.api(browser).command(key)
    assert status["status"] == "rejected" and status["error"]["code"] == "order_not_paid"


def test_command_failed_reaches_the_senders_websocket_when_the_system_gives_up(
    system: WithWorkers,
) -> None:
    replace_workers(
        system,
        env={"ORDERWIRE_FAULTS": "handler.start=raise", "ORDERWIRE_COMMAND_MAX_ATTEMPTS": "3"},
    )
    browser = system.new_session()
    try:
        with system.websocket(browser) as live:
            accepted = place(system, browser)
            key = accepted["request_id"]
            failed = live.wait_for_event(
                lambda event: event["type"] == "CommandFailed" and event["request_id"] == key
            )
    finally:
        replace_workers(system)

    assert failed["data"]["command"] == "PlaceOrder"
    assert failed["data"]["code"] == "attempts_exhausted"
    status = system.api(browser).command(key)
    assert status["status"] == "failed" and status["attempts"] == 3
    answer = browser.get(f"{system.base_url}/api/orders/{accepted['order_id']}", timeout=5)
    assert answer.status_code == 404



def test_a_worker_child_killed_inside_the_transaction_gets_its_message_back(
    system: WithWorkers, database: Engine
) -> None:
    # No relay, so no sweeper: only Celery's reject-on-worker-lost can bring the command back.
    system.stop_process("relay")
    worker = replace_workers(
        system, env={"ORDERWIRE_FAULTS": "transaction.before_commit=sleep:8"}, concurrency=1
    )
    browser = system.new_session()
    try:
        accepted = place(system, browser)
        key = accepted["request_id"]
        wait_inside_the_transaction(system, worker, browser, key)
        [child] = system.worker_children(worker)

        os.kill(child, signal.SIGKILL)

        status = system.api(browser).wait_until_final(key, timeout=60)
    finally:
        system.start_relay_process()
        replace_workers(system)

    assert status["status"] == "succeeded" and status["attempts"] == 2
    assert order_events(system, browser, accepted["order_id"]) == ["OrderPlaced"]
    assert_placed_exactly_once(database, accepted["order_id"])


def test_a_whole_worker_killed_inside_the_transaction_is_rescued_by_the_sweeper(
    system: WithWorkers, database: Engine
) -> None:
    worker = replace_workers(
        system, env={"ORDERWIRE_FAULTS": "transaction.before_commit=sleep:30"}, concurrency=1
    )
    browser = system.new_session()
    accepted = place(system, browser)
    key = accepted["request_id"]
    wait_inside_the_transaction(system, worker, browser, key)

    system.stop_process(worker, sig=signal.SIGKILL)  # the parent and its child, at once
    assert system.api(browser).command(key)["status"] == "running"
    no_order = browser.get(f"{system.base_url}/api/orders/{accepted['order_id']}", timeout=5)
    assert no_order.status_code == 404  # the killed transaction left nothing behind

    system.workers = []
    replace_workers(system)
    status = system.api(browser).wait_until_final(key, timeout=60)

    assert status["status"] == "succeeded" and status["attempts"] >= 2
    assert order_events(system, browser, accepted["order_id"]) == ["OrderPlaced"]
    assert_placed_exactly_once(database, accepted["order_id"])
