"""The durable feed end to end, on real processes (gunicorn, Celery workers, the relay, Redis):
a consumer that was stopped while 1,000 commands ran gets all their events when it comes back,
once each, each order's in version order; and Redis crashing with commands in flight (AOF on,
as deployed) loses no event, while the consumer rides through it."""

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import Engine, func, select

from orderwire.command_status import FINAL
from orderwire.db.engine import make_engine
from orderwire.db.tables import commands, events
from orderwire.feed.names import FEED_STREAM
from tests.conftest import POSTGRES_URL, database_backends
from tests.feed_tools import TailProcess, in_order_per_order, joined
from tests.payloads import a_key, a_line, order_body
from tools.harness.databases import private_database
from tools.harness.system import System
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(params=database_backends())
def system(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[System]:
    # A schema of its own on PostgreSQL: the session's shared schema holds unpublished
    # events of other tests, which this system's relay would publish into its feed.
    configured = POSTGRES_URL if request.param == "postgresql" else None
    env = {"ORDERWIRE_RATE_LIMIT": "off"}
    with (
        private_database(tmp_path, configured, "e2e") as database_url,
        System(tmp_path, database_url=database_url, env=env) as running,
    ):
        yield running


@pytest.fixture
def engine(system: System) -> Iterator[Engine]:
    engine = make_engine(system.database_url)
    yield engine
    engine.dispose()


def send_all(system: System, browser: requests.Session, sends: list[tuple[str, dict]]) -> list[str]:
    def send(path: str, body: dict) -> str:
        answer = system.api(browser).post(path, body, key=a_key("feed"))
        assert answer.status_code == 202, answer.text
        return answer.json()["request_id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda item: send(*item), sends))


def wait_until_final_and_published(engine: Engine, request_ids: list[str]) -> None:
    def unfinished() -> int:
        with engine.connect() as connection:
            waiting = connection.execute(
                select(func.count()).select_from(commands).where(
                    commands.c.request_id.in_(request_ids), commands.c.status.not_in(FINAL)
                )
            ).scalar_one()
            unpublished = connection.execute(
                select(func.count()).select_from(events).where(
                    events.c.request_id.in_(request_ids), events.c.published_at.is_(None)
                )
            ).scalar_one()
            return waiting + unpublished

    wait_for(lambda: unfinished() == 0, timeout=600, interval=0.5,
             what=f"{len(request_ids)} commands to finish and their events to be published")


def test_a_consumer_stopped_while_1000_commands_ran_gets_every_event_once_in_order(
    system: System, engine: Engine
) -> None:
    client = redis.Redis.from_url(system.redis.url)
    consumer = TailProcess(system.redis.url, "billing", "--consumer", "billing-1")
    wait_for(
        lambda: joined(client, "billing"),
        timeout=30, what="the consumer to join its group",
    )
    consumer.kill()  # stopped: a deploy, a crash, a network cut

    browser = system.new_session()
    order_ids = [str(uuid.uuid4()) for _ in range(400)]
    line = a_line("tea", 1, "2.50")
    request_ids: list[str] = []
    placing = [
        ("/api/orders", order_body("Ada", line, order_id=order_id))
        for order_id in order_ids
    ]
    step: list[tuple[str, dict]]  # what send_all takes
    for step in (placing, [(f"/api/orders/{o}/pay", {}) for o in order_ids[:300]],
                 [(f"/api/orders/{o}/ship", {}) for o in order_ids[:300]]):
        sent = send_all(system, browser, step)
        wait_until_final_and_published(engine, sent)  # the next step needs this one done
        request_ids += sent
    assert len(request_ids) == 1000
    with engine.connect() as connection:
        committed = {
            row.event_id: row.type
            for row in connection.execute(
                select(events.c.event_id, events.c.type).where(events.c.request_id.in_(request_ids))
            )
        }
    assert len(committed) >= 2000  # each command's own event and the customer's notification

    restarted = TailProcess(system.redis.url, "billing", "--consumer", "billing-1")
    try:
        wait_for(lambda: set(committed) <= set(restarted.ids), timeout=300, interval=0.5,
                 what=f"all {len(committed)} events after the restart")
    finally:
        restarted.kill()

    received = restarted.envelopes
    assert len(restarted.ids) == len(set(restarted.ids))  # once each: the kit drops copies
    assert set(restarted.ids) == set(committed)
    order_events = [event for event in received if event["aggregate_id"] in set(order_ids)]
    assert len(order_events) == 1000 and in_order_per_order(order_events)
    assert client.xpending(FEED_STREAM, "billing")["pending"] <= 1  # the last printed one


def test_redis_crashing_with_aof_loses_no_event_it_acknowledged_and_the_consumer_goes_on(
    tmp_path: Path,
) -> None:
    env = {"ORDERWIRE_RATE_LIMIT": "off", "ORDERWIRE_SWEEP_ACCEPTED_AFTER": "5"}
    system = System(tmp_path, env=env)
    system.redis.appendonly = True  # as docker-compose and `make run` run it
    with system:
        engine = make_engine(system.database_url)
        consumer = TailProcess(system.redis.url, "billing", "--consumer", "billing-1")
        try:
            browser = system.new_session()
            line = a_line("tea", 1, "2.50")
            order_ids = [str(uuid.uuid4()) for _ in range(60)]
            before = send_all(system, browser, [
                ("/api/orders", order_body("Ada", line, order_id=order_id))
                for order_id in order_ids
            ])
            system.redis.kill()  # a crash, commands in flight: the AOF is all that is left
            system.redis.start()
            wait_until_final_and_published(engine, before)  # pay only what was placed
            after = [
                wait_for(lambda order_id=order_id: accepted(system, browser, order_id),  # type: ignore[misc]  # a lambda with defaults: python/mypy#15459
                         timeout=60, what="the web to accept commands again")
                for order_id in order_ids
            ]
            wait_until_final_and_published(engine, after)
            with engine.connect() as connection:
                committed = set(connection.execute(
                    select(events.c.event_id).where(events.c.request_id.in_(before + after))
                ).scalars())
            wait_for(lambda: committed <= set(consumer.ids), timeout=120, interval=0.5,
                     what=f"all {len(committed)} events, from before and after the crash")
        finally:
            consumer.kill()
            engine.dispose()

    assert len(consumer.ids) == len(set(consumer.ids))
    order_events = [e for e in consumer.envelopes if e["aggregate_id"] in set(order_ids)]
    assert len(order_events) == 120 and in_order_per_order(order_events)


def accepted(system: System, browser: requests.Session, order_id: str) -> str | None:
    """The request id of a PayOrder the web accepted (202), or None while it answers 503."""
    try:
        answer = system.api(browser).post(f"/api/orders/{order_id}/pay", {}, key=f"pay-{order_id}")
    except requests.RequestException:
        return None
    return answer.json()["request_id"] if answer.status_code == 202 else None
