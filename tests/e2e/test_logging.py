"""One grep for a request id tells a command's whole story, across every process's JSON log."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.payloads import a_key, a_line, a_name, order_body
from tools.harness.system import System
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

ORDER = order_body("Grace Hopper", a_line("compiler", 1, "12.50"))


def grep(logs: Path, needle: str) -> list[tuple[str, str]]:
    """(log file stem, line) for every line of every process log that mentions `needle`."""
    return [
        (log.stem, line)
        for log in sorted(logs.glob("*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if needle in line
    ]


def story_of(logs: Path, request_id: str) -> list[dict[str, Any]]:
    story = []
    for process, line in grep(logs, request_id):
        record = json.loads(line)  # every line that names the command is a JSON object
        record["_file"] = process
        story.append(record)
    return story


def events(story: list[dict[str, Any]], process: str, name: str) -> list[dict[str, Any]]:
    return [r for r in story if r["_file"].startswith(process) and r.get("event") == name]


def test_one_grep_for_a_request_id_tells_the_commands_whole_story(system: System) -> None:
    browser = system.new_session()
    key = a_key("story")
    with system.websocket(browser) as live:
        assert system.api(browser).post("/api/orders", ORDER, key=key).status_code == 202
        placed = live.wait_for_event(
            lambda e: e["type"] == "OrderPlaced" and e["request_id"] == key, timeout=30
        )
    assert system.api(browser).wait_until_final(key)["status"] == "succeeded"

    def complete() -> list[dict[str, Any]] | None:
        # Processes write at their own pace: the worker logs "finished" after its fast-path
        # publish, so the web may log the delivery first. Wait for both ends of the story.
        # Celery's "succeeded" line comes later still, from the worker's main process.
        story = story_of(system.logs, key)
        done = (
            events(story, "web", "event.delivered")
            and events(story, "worker", "command.finished")
            and any(" succeeded in " in record["message"] for record in story)
        )
        return story if done else None

    story = wait_for(complete, timeout=15, what="the web and the worker to log their parts")

    assert all(record["request_id"] == key for record in story), story
    assert events(story, "web", "command.accepted")
    assert events(story, "worker", "command.started")
    [finished] = events(story, "worker", "command.finished")
    assert finished["status"] == "succeeded" and finished["command"] == "PlaceOrder"
    # Published by the worker's fast path, or by the relay if that failed.
    published = [r for r in story if r.get("event") == "event.published"]
    assert placed["id"] in {record["event_id"] for record in published}
    delivered = events(story, "web", "event.delivered")
    assert placed["id"] in {record["event_id"] for record in delivered}
    celery_says = [r["message"] for r in story if r["logger"].startswith("celery")]
    assert any(message.endswith("received") for message in celery_says), celery_says
    assert any(" succeeded in " in message for message in celery_says), celery_says


def test_log_lines_never_carry_the_customers_order_details(system: System) -> None:
    browser = system.new_session()
    key = a_key("private")
    name = a_name()
    with system.websocket(browser) as live:
        body = {**ORDER, "customer_name": name}
        assert system.api(browser).post("/api/orders", body, key=key).status_code == 202
        live.wait_for_event(lambda e: e["type"] == "OrderPlaced" and e["request_id"] == key)
    wait_for(
        lambda: events(story_of(system.logs, key), "web", "event.delivered"),
        timeout=15, what="the delivery to be logged",
    )

    assert grep(system.logs, name) == []
