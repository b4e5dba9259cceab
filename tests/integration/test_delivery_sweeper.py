"""The delivery sweeper re-sends an after-commit delivery whose task was lost, once per
`after`, and never one that has been handled or is older than its horizon."""

import json
import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import Engine, update

from orderwire import subscribers
from orderwire.db.engine import utcnow
from orderwire.db.tables import events
from orderwire.delivery_sweeper import DeliverySweeper
from orderwire.local_redis import PrivateRedis
from tests.integration.event_helpers import orderwire_on
from tests.payloads import place_order_payload
from tests.recorded_commands import record_command
from worker.tasks import deliver_event

pytestmark = pytest.mark.integration

SUBSCRIBED = {"OrderPaid": [subscribers.add_to_sales_ledger]}
DELIVERY = "add_to_sales_ledger"


@pytest.fixture
def services(engine: Engine, database_url: str, redis_server: PrivateRedis):  # type: ignore[no-untyped-def]
    return orderwire_on(engine, database_url, redis_server.url, after_commit_subscribers=SUBSCRIBED)


def paid_event(services) -> str:  # type: ignore[no-untyped-def]
    order_id = str(uuid.uuid4())
    assert (
        services.execute(
            record_command(services.engine, "PlaceOrder", place_order_payload(order_id))
        ).status
        == "succeeded"
    )
    outcome = services.execute(record_command(services.engine, "PayOrder", {"order_id": order_id}))
    assert outcome.status == "succeeded"
    while services.relay.mark_confirmed():  # the relay marks what the fast path published
        pass
    return outcome.event_ids[0]


def queued_deliveries(client: redis.Redis) -> list[str]:
    """Task ids of the subscriber deliveries waiting in the real broker queue."""
    ids = []
    for raw in client.lrange("celery", 0, -1):
        headers = json.loads(raw)["headers"]
        if headers["task"] == f"orderwire.subscriber.{DELIVERY}":
            ids.append(headers["id"])
    return ids


def age(engine: Engine, event_id: str, by: timedelta) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(events).where(events.c.event_id == event_id).values(occurred_at=utcnow() - by)
        )


def a_sweeper(services, **overrides) -> DeliverySweeper:  # type: ignore[no-untyped-def]
    return DeliverySweeper(
        services.engine, services.queue.enqueue_subscriber, SUBSCRIBED, **overrides
    )


def test_a_lost_delivery_is_sent_again_once_per_period_until_it_is_handled(
    services, redis_client: redis.Redis
) -> None:  # type: ignore[no-untyped-def]
    event_id = paid_event(services)
    task_id = f"{event_id}:{DELIVERY}"
    assert task_id in queued_deliveries(redis_client)  # sent when the event was published
    redis_client.delete("celery")  # ... and lost, as in a Redis restart without persistence
    age(services.engine, event_id, timedelta(hours=1))
    sweeper = a_sweeper(services, after=timedelta(minutes=15))

    assert sweeper.sweep() >= 1
    assert queued_deliveries(redis_client).count(task_id) == 1
    sweeper.sweep()  # within the same period: not again
    assert queued_deliveries(redis_client).count(task_id) == 1

    assert deliver_event(services, subscribers.add_to_sales_ledger, event_id) == "handled"
    redis_client.delete("celery")
    a_sweeper(services, after=timedelta(minutes=15)).sweep()
    assert task_id not in queued_deliveries(redis_client)


def test_recent_deliveries_are_left_to_celery_and_old_ones_are_given_up(
    services, redis_client: redis.Redis
) -> None:  # type: ignore[no-untyped-def]
    recent, ancient = paid_event(services), paid_event(services)
    redis_client.delete("celery")
    age(services.engine, ancient, timedelta(days=2))

    a_sweeper(services, after=timedelta(minutes=15), horizon=timedelta(hours=24)).sweep()

    queued = queued_deliveries(redis_client)
    assert f"{recent}:{DELIVERY}" not in queued  # Celery may still be retrying it
    assert f"{ancient}:{DELIVERY}" not in queued  # past the horizon
