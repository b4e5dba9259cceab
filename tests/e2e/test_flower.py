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

from orderwire.local_redis import free_port
from tests.harness import BIN, ROOT, System
from tests.waiting import wait_for

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


def run_command(system: System, customer_name: str) -> str:
    browser = system.new_session()
    key = f"flower-{uuid.uuid4()}"
    order = {
        "customer_name": customer_name,
        "lines": [{"product": "difference engine", "quantity": 1, "unit_price": "10.00"}],
    }
    assert system.post(browser, "/api/orders", order, key=key).status_code == 202
    assert system.wait_until_final(browser, key)["status"] == "succeeded"
    return key


def task_seen_by(flower: Flower, request_id: str) -> dict[str, Any]:
    def succeeded() -> dict[str, Any] | None:
        task = flower.get("/api/tasks").json().get(request_id)
        return task if task and task["state"] == "SUCCESS" else None

    return wait_for(succeeded, timeout=30, what=f"Flower to see {request_id} succeed")


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
    request_id = run_command(system, "Ada Lovelace")
    task = task_seen_by(flower, request_id)

    assert task["name"] == "orderwire.PlaceOrder"
    assert task["uuid"] == request_id
    assert task["args"] == repr([request_id])  # the id only: the data stays in the database
    assert task["kwargs"] == "{}"
    # Received and started come from the worker's own events: worker events are on.
    assert task["received"] and task["started"] and task["worker"].startswith("worker@")


def test_what_a_customer_typed_never_reaches_flowers_pages(system: System, flower: Flower) -> None:
    marker = uuid.uuid4().hex
    request_id = run_command(system, f'<img src=x onerror="alert(\'{marker}\')">')
    task_seen_by(flower, request_id)

    for path in ("/", "/tasks", f"/task/{request_id}", "/api/tasks", "/workers"):
        page = flower.get(path)
        assert page.status_code == 200, path
        assert marker not in page.text, path
