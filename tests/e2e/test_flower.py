"""Flower as operators get it (`orderwire flower`): behind basic auth, one task per command
named after it, the request id as task id, and nothing a customer typed in sight."""

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from redis import Redis

from orderwire.db import command_log
from orderwire.local_redis import free_port
from tests.e2e.browser import DESKTOP, SCREENSHOTS
from tests.live_tools import session_id_of
from tests.payloads import a_key, a_line, order_body
from tools.harness.system import BIN, ROOT, System
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

CREDENTIALS = ("operator", "flower-test-password")


class Flower:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def get(self, path: str, auth: Any = CREDENTIALS) -> requests.Response:
        return requests.get(f"{self.base_url}{path}", auth=auth, timeout=10)

    def answers(self) -> bool:
        try:
            return self.get("/", auth=None).status_code == 401
        except requests.RequestException:
            return False


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with System(tmp_path_factory.mktemp("flower"), start_relay=False) as running:
        yield running


@pytest.fixture(scope="module")
def flower(system: System) -> Iterator[Flower]:
    port = free_port()
    env = {
        **system.env(),
        "FLOWER_PORT": str(port),
        "FLOWER_BASIC_AUTH": ":".join(CREDENTIALS),
    }
    with open(system.logs / "flower.log", "ab") as log:
        process = subprocess.Popen(
            [str(BIN / "orderwire"), "flower"], cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    running = Flower(f"http://127.0.0.1:{port}")
    try:
        wait_for(running.answers, timeout=60, what="Flower to answer")
        yield running
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)


def run_command(system: System, customer_name: str) -> tuple[str, str]:
    """Place an order and wait for it; (its request id, its command id)."""
    browser = system.new_session()
    key = a_key("flower")
    order = order_body(customer_name, a_line("difference engine", 1, "10.00"))
    assert system.api(browser).post("/api/orders", order, key=key).status_code == 202
    assert system.api(browser).wait_until_final(key)["status"] == "succeeded"
    return key, command_log.command_id(session_id_of(browser), key)


def task_seen_by(flower: Flower, request_id: str, state: str = "SUCCESS") -> dict[str, Any]:
    def in_state() -> dict[str, Any] | None:
        task = flower.get("/api/tasks").json().get(request_id)
        return task if task and task["state"] == state else None

    return wait_for(in_state, timeout=30, what=f"Flower to see {request_id} in {state}")


def test_orderwire_flower_refuses_to_start_without_credentials(system: System) -> None:
    env = {**system.env(), "FLOWER_PORT": str(free_port())}
    env.pop("FLOWER_BASIC_AUTH")
    finished = subprocess.run(
        [str(BIN / "orderwire"), "flower"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=60, check=False,
    )
    assert finished.returncode != 0
    assert "FLOWER_BASIC_AUTH" in finished.stderr


def test_flower_asks_for_credentials_and_accepts_only_the_right_ones(flower: Flower) -> None:
    assert flower.get("/", auth=None).status_code == 401
    assert flower.get("/", auth=("operator", "wrong")).status_code == 401
    assert flower.get("/api/tasks", auth=None).status_code == 401
    assert flower.get("/").status_code == 200


def test_a_command_shows_as_a_task_named_after_it_with_the_request_id(
    system: System, flower: Flower
) -> None:
    request_id, command_id = run_command(system, "Ada Lovelace")
    task = task_seen_by(flower, request_id)

    assert task["name"] == "orderwire.PlaceOrder"
    assert task["uuid"] == request_id
    # The command id only (the request id is unique per session): the data stays in the database.
    assert task["args"] == repr([command_id])
    assert task["kwargs"] == "{}"
    # Received and started come from the worker's own events: worker events are on.
    assert task["received"] and task["started"] and task["worker"].startswith("worker@")


def test_what_a_customer_typed_never_reaches_flowers_pages(system: System, flower: Flower) -> None:
    marker = uuid.uuid4().hex
    request_id, _ = run_command(system, f'<img src=x onerror="alert(\'{marker}\')">')
    task_seen_by(flower, request_id)

    for path in ("/", "/tasks", f"/task/{request_id}", "/api/tasks", "/workers"):
        page = flower.get(path)
        assert page.status_code == 200, path
        assert marker not in page.text, path


def test_a_rejected_command_is_rejected_in_flower_acknowledged_and_never_run_again(
    system: System, flower: Flower
) -> None:
    browser = system.new_session()
    unpaid = order_body("Unpaid", a_line("p", 1, "1"))
    order_id = system.api(browser).post("/api/orders", unpaid).json()["order_id"]
    key = a_key("ship-unpaid")
    assert system.api(browser).post(f"/api/orders/{order_id}/ship", {}, key=key).status_code == 202
    assert system.api(browser).wait_until_final(key)["status"] == "rejected"

    task = task_seen_by(flower, key, state="COMMAND_REJECTED")
    assert task["name"] == "orderwire.ShipOrder"
    assert task["received"] and task["started"] and task["runtime"] > 0
    # Acknowledged (just after the event Flower saw): not held unacknowledged, where the
    # Redis transport would redeliver it after the visibility timeout, nor queued again.
    redis = Redis.from_url(system.redis.url)
    wait_for(lambda: not [m for m in redis.hvals("unacked") if key.encode() in m],
             timeout=15, what="the rejected command's message to be acknowledged")
    assert not [m for m in redis.lrange("celery", 0, -1) if key.encode() in m]
    assert system.api(browser).command(key)["attempts"] == 1
    # A command that succeeds is still SUCCESS next to it.
    task_seen_by(flower, run_command(system, "Next customer")[0])


def test_a_command_that_gave_up_is_command_failed_in_flower_not_success(
    system: System, flower: Flower
) -> None:
    system.stop_process("worker")
    faulty = f"faulty-{uuid.uuid4().hex[:6]}"
    system.start_worker(faulty, env={
        "ORDERWIRE_FAULTS": "handler.start=raise", "ORDERWIRE_COMMAND_MAX_ATTEMPTS": "2",
    })
    try:
        system.wait_for_worker(faulty)
        browser = system.new_session()
        key = a_key("gives-up")
        order = order_body("Unlucky", a_line("p", 1, "3"))
        assert system.api(browser).post("/api/orders", order, key=key).status_code == 202
        assert system.api(browser).wait_until_final(key)["status"] == "failed"
        task = task_seen_by(flower, key, state="COMMAND_FAILED")
        assert task["name"] == "orderwire.PlaceOrder"
    finally:
        system.stop_process(faulty)
        healthy = f"worker-{uuid.uuid4().hex[:6]}"  # its own log, so "ready" is its own
        system.start_worker(healthy)
        system.wait_for_worker(healthy)


@pytest.mark.browser
def test_flowers_task_table_shows_state_and_runtime_at_1280_pixels(
    system: System, flower: Flower, chromium: Any
) -> None:
    # The widest rows there are: a request id of the longest kind a client may send, next to
    # the other commands' rows. (After-commit subscribers are no Celery tasks: the relay
    # delivers them from the outbox.)
    browser = system.new_session()
    longest_key = "k" * 128
    order = order_body("Wide", a_line("p", 1, "2"))
    order_id = system.api(browser).post("/api/orders", order, key=longest_key).json()["order_id"]
    task_seen_by(flower, longest_key)
    paid = a_key("pay")
    system.api(browser).post(f"/api/orders/{order_id}/pay", {}, key=paid)
    task_seen_by(flower, paid)

    context = chromium.new_context(viewport=DESKTOP, http_credentials={
        "username": CREDENTIALS[0], "password": CREDENTIALS[1]})
    try:
        page = context.new_page()
        page.goto(f"{flower.base_url}/tasks")
        page.wait_for_selector("#tasks-table tbody tr td", timeout=30_000)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "flower-tasks.png"))
        for column in ("Name", "State", "Runtime", "Received", "Worker"):
            header = page.locator("#tasks-table thead th", has_text=column).first
            box = header.bounding_box()
            assert box is not None and box["x"] + box["width"] <= DESKTOP["width"], column
    finally:
        context.close()
