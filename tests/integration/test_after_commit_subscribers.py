"""After-commit subscribers, delivered by `deliver_event` as the worker's task does: a failure
leaves no trace and touches neither the command nor the other subscribers; a retry applies the
effect once; a redelivery changes nothing."""

import threading
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from orderwire import subscribers
from orderwire.db.tables import handled_events, sales_ledger
from tests.integration.event_helpers import closed_redis_url, orderwire_on
from tests.payloads import place_order_payload
from tests.recorded_commands import command_row, record_command
from worker.tasks import deliver_event

pytestmark = pytest.mark.integration


class FlakyUpstream(Exception):
    pass


def paid_order(services) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """(order id, the PayOrder's request id, the OrderPaid event id) of a freshly paid order."""
    order_id = str(uuid.uuid4())
    place = record_command(services.engine, "PlaceOrder", place_order_payload(order_id))
    assert services.execute(place).status == "succeeded"
    pay = record_command(services.engine, "PayOrder", {"order_id": order_id})
    outcome = services.execute(pay)
    assert outcome.status == "succeeded"
    return order_id, pay, outcome.event_ids[0]


def handled(engine: Engine, event_id: str) -> list[str]:
    with engine.connect() as connection:
        return sorted(
            connection.execute(
                select(handled_events.c.subscriber).where(handled_events.c.event_id == event_id)
            ).scalars()
        )


def ledger(engine: Engine) -> tuple[int, Decimal]:
    """(orders paid, revenue) over all days: tests compare it before and after, because on
    PostgreSQL the tests of one session share a schema."""
    with engine.connect() as connection:
        rows = connection.execute(select(sales_ledger.c.orders_paid, sales_ledger.c.revenue)).all()
    return sum(orders for orders, _ in rows), sum((Decimal(r) for _, r in rows), Decimal("0"))


def booked_since(engine: Engine, before: tuple[int, Decimal]) -> tuple[int, Decimal]:
    orders, revenue = ledger(engine)
    return orders - before[0], revenue - before[1]


def named(name: str, function: Any) -> Any:
    function.__name__ = name
    return function


@pytest.fixture
def services(engine: Engine, database_url: str):  # type: ignore[no-untyped-def]
    # deliver_event needs only the database; Redis being down changes nothing here.
    return orderwire_on(engine, database_url, closed_redis_url())


def test_a_failing_subscriber_leaves_no_trace_and_the_command_as_it_was(
    services, engine: Engine
) -> None:
    _, pay, event_id = paid_order(services)
    before = ledger(engine)

    def books_then_fails(envelope: dict[str, Any], connection: Connection) -> None:
        subscribers.add_to_sales_ledger(envelope, connection)
        raise FlakyUpstream("the ledger service timed out")

    with pytest.raises(FlakyUpstream):
        deliver_event(services, named("add_to_sales_ledger", books_then_fails), event_id)

    assert handled(engine, event_id) == []
    assert booked_since(engine, before) == (0, 0)  # its half-done write rolled back with it
    assert command_row(engine, pay)["status"] == "succeeded"  # type: ignore[index]


def test_a_retried_subscriber_applies_its_effect_once_and_a_redelivery_is_a_duplicate(
    services, engine: Engine
) -> None:
    _, _, event_id = paid_order(services)
    before = ledger(engine)

    def fails(envelope: dict[str, Any], connection: Connection) -> None:
        raise FlakyUpstream("first attempt")

    with pytest.raises(FlakyUpstream):
        deliver_event(services, named("add_to_sales_ledger", fails), event_id)
    assert deliver_event(services, subscribers.add_to_sales_ledger, event_id) == "handled"
    assert deliver_event(services, subscribers.add_to_sales_ledger, event_id) == "duplicate"

    assert handled(engine, event_id) == ["add_to_sales_ledger"]
    assert booked_since(engine, before) == (1, Decimal("2.50"))


def test_one_subscriber_failing_does_not_stop_another_on_the_same_event(
    services, engine: Engine
) -> None:
    _, _, event_id = paid_order(services)
    mailed: list[str] = []

    def fails(envelope: dict[str, Any], connection: Connection) -> None:
        raise FlakyUpstream("down")

    with pytest.raises(FlakyUpstream):
        deliver_event(services, named("notify_accounting", fails), event_id)
    mail = named("send_receipt", lambda envelope, connection: mailed.append(envelope["id"]))
    assert deliver_event(services, mail, event_id) == "handled"

    assert mailed == [event_id]
    assert handled(engine, event_id) == ["send_receipt"]


def test_concurrent_deliveries_of_one_event_apply_it_once(services, engine: Engine) -> None:
    _, _, event_id = paid_order(services)
    before = ledger(engine)
    results: list[str] = []
    start = threading.Barrier(2, timeout=30)

    def deliver() -> None:
        start.wait()
        results.append(deliver_event(services, subscribers.add_to_sales_ledger, event_id))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results) == ["duplicate", "handled"]
    assert booked_since(engine, before) == (1, Decimal("2.50"))


def test_an_unknown_event_is_reported_and_changes_nothing(services, engine: Engine) -> None:
    unknown = str(uuid.uuid4())
    assert deliver_event(services, subscribers.add_to_sales_ledger, unknown) == "unknown"
    assert handled(engine, unknown) == []


def test_cancelling_a_paid_order_takes_it_out_of_the_sales_ledger(
    services, engine: Engine
) -> None:
    order_id, _, paid_event = paid_order(services)
    before = ledger(engine)
    cancel = services.execute(
        record_command(engine, "CancelOrder", {"order_id": order_id, "reason": "changed my mind"})
    )
    assert deliver_event(services, subscribers.add_to_sales_ledger, paid_event) == "handled"
    assert deliver_event(services, subscribers.remove_from_sales_ledger, cancel.event_ids[0]) == (
        "handled"
    )
    assert booked_since(engine, before) == (0, 0)


def test_cancelling_an_unpaid_order_leaves_the_sales_ledger_alone(
    services, engine: Engine
) -> None:
    order_id, before = str(uuid.uuid4()), ledger(engine)
    services.execute(record_command(engine, "PlaceOrder", place_order_payload(order_id)))
    cancel = services.execute(
        record_command(engine, "CancelOrder", {"order_id": order_id, "reason": "too slow"})
    )
    assert cancel.status == "succeeded"
    assert deliver_event(services, subscribers.remove_from_sales_ledger, cancel.event_ids[0]) == (
        "handled"
    )
    assert booked_since(engine, before) == (0, 0)
