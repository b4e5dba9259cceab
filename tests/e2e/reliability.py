"""What the command reliability tests share (test_command_reliability, test_dead_worker):
placing an order through the API, a worker's JSON log records, and what the database and
the API say about one order."""

import json
from typing import Any

import requests
from sqlalchemy import Engine, func, select

from orderwire.db.tables import events, orders
from tests.payloads import ORDER, a_key
from tools.harness.system import System
from tools.harness.waiting import wait_for


def log_records(system: System, name: str) -> list[dict[str, Any]]:
    records = []
    for line in (system.logs / f"{name}.log").read_text(errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def place(system: System, browser: requests.Session, key: str | None = None) -> dict[str, Any]:
    answer = system.api(browser).post("/api/orders", ORDER, key=key or a_key("e2e"))
    assert answer.status_code == 202, answer.text
    return answer.json()


def order_events(system: System, browser: requests.Session, order_id: str) -> list[str]:
    answer = browser.get(f"{system.base_url}/api/orders/{order_id}/events", timeout=5)
    assert answer.status_code == 200, answer.text
    return [event["type"] for event in answer.json()["events"]]


def assert_placed_exactly_once(database: Engine, order_id: str) -> None:
    with database.connect() as connection:
        assert connection.execute(
            select(func.count()).select_from(orders).where(orders.c.order_id == order_id)
        ).scalar_one() == 1
        placed = connection.execute(
            select(func.count())
            .select_from(events)
            .where(events.c.aggregate_id == order_id, events.c.type == "OrderPlaced")
        ).scalar_one()
    assert placed == 1


def wait_inside_the_transaction(system: System, worker: str, browser: requests.Session,
                                key: str) -> None:
    wait_for(lambda: system.api(browser).command(key)["status"] == "running", timeout=30,
             what="the command to be running")
    wait_for(
        lambda: any(
            record.get("event") == "fault.injected" and record.get("request_id") == key
            for record in log_records(system, worker)
        ),
        timeout=30,
        what="the worker to reach transaction.before_commit",
    )
