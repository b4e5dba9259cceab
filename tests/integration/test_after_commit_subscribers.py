"""After-commit subscribers, delivered from the outbox by the relay's delivery job on the real
databases: batches applied once each, a failure that leaves no trace and backs off without
holding up another subscriber, parking after the last attempt, re-driving, and the ledger's
own rules. Each test's subscriber starts caught up (tests share the PostgreSQL schema)."""

import threading
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, insert, select

from orderwire import subscribers
from orderwire.bootstrap import Orderwire
from orderwire.db.engine import is_postgres, utcnow
from orderwire.db.tables import events, subscriber_positions
from orderwire.outbox.deliveries.delivery import Backoff, SubscriberDelivery
from orderwire.outbox.deliveries.redrive import find_parked, redrive
from orderwire.outbox.deliveries.subscriptions import Subscription, subscriptions_from
from tests.integration.delivery_helpers import (
    FlakyUpstream,
    booked_since,
    caught_up,
    ledger,
    paid_order,
    position_of,
    seq_of,
)
from tests.integration.event_helpers import closed_redis_url, orderwire_on
from tests.payloads import place_order_payload
from tests.recorded_commands import record_command, recorded_command
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.integration

NO_WAIT = Backoff(first=0, cap=0)


@pytest.fixture
def services(engine: Engine, database_url: str) -> Orderwire:
    # Delivery needs only the database; Redis being down changes nothing here.
    return orderwire_on(engine, database_url, closed_redis_url())


def subscription(name: str, handle: Any, *types: str) -> Subscription:
    return Subscription(name, handle, frozenset(types or ("OrderPaid",)))


def unique(name: str) -> str:
    return f"{name}_{uuid.uuid4().hex[:8]}"


def a_delivery(engine: Engine, *subs: Subscription, **options: Any) -> SubscriberDelivery:
    caught_up(engine, *subs)
    options.setdefault("backoff", NO_WAIT)
    return SubscriberDelivery(engine, subs, **options)


def test_a_batch_of_paid_orders_is_booked_in_one_round_and_only_once(
    services, engine: Engine
) -> None:
    ledger_subscriber = subscription(unique("book"), subscribers.add_to_sales_ledger)
    delivery = a_delivery(engine, ledger_subscriber)
    before = ledger(engine)
    paid = [paid_order(services)[2] for _ in range(3)]

    assert delivery.deliver() == 3
    assert delivery.deliver() == 0  # nothing new: a second round applies nothing again

    assert booked_since(engine, before) == (3, Decimal("7.50"))
    # The position passed the last paid event and the notifications after it.
    assert position_of(engine, ledger_subscriber.name)["position"] >= seq_of(engine, paid[-1])


def test_a_failing_subscriber_leaves_no_trace_and_the_command_as_it_was(
    services, engine: Engine
) -> None:
    def books_then_fails(envelope: dict[str, Any], connection: Connection) -> None:
        subscribers.add_to_sales_ledger(envelope, connection)
        raise FlakyUpstream("the ledger service timed out")

    flaky = subscription(unique("book"), books_then_fails)
    delivery = a_delivery(engine, flaky, backoff=Backoff(first=60, cap=60))
    start = position_of(engine, flaky.name)["position"]
    before = ledger(engine)
    _, pay, event_id = paid_order(services)

    assert delivery.deliver() == 0

    # its half-done write rolled back with it
    assert booked_since(engine, before) == (0, Decimal(0))
    after = position_of(engine, flaky.name)
    assert after["position"] == start
    assert (after["failing_event_id"], after["failures"]) == (event_id, 1)
    assert after["last_error"] == "FlakyUpstream: the ledger service timed out"
    assert recorded_command(engine, pay)["status"] == "succeeded"


def test_a_failing_event_is_retried_only_after_its_backoff(services, engine: Engine) -> None:
    calls: list[str] = []

    def fails_once(envelope: dict[str, Any], connection: Connection) -> None:
        calls.append(envelope["id"])
        if len(calls) == 1:
            raise FlakyUpstream("first attempt")
        subscribers.add_to_sales_ledger(envelope, connection)

    flaky = subscription(unique("book"), fails_once)
    delivery = a_delivery(engine, flaky, backoff=Backoff(first=1.5, cap=1.5))
    before = ledger(engine)
    _, _, event_id = paid_order(services)

    assert delivery.deliver() == 0
    assert delivery.deliver() == 0  # within its backoff: not even attempted
    assert calls == [event_id]
    retry_at = position_of(engine, flaky.name)["retry_at"]
    assert retry_at is not None

    wait_for(lambda: delivery.deliver() == 1, timeout=30, what="the retry after the backoff")
    assert calls == [event_id, event_id]
    assert booked_since(engine, before) == (1, Decimal("2.50"))
    assert position_of(engine, flaky.name)["failures"] == 0


def test_one_subscriber_failing_does_not_hold_up_another(services, engine: Engine) -> None:
    mailed: list[str] = []

    def fails(envelope: dict[str, Any], connection: Connection) -> None:
        raise FlakyUpstream("down")

    broken = subscription(unique("notify_accounting"), fails)
    mail = subscription(unique("send_receipt"), lambda envelope, _: mailed.append(envelope["id"]))
    delivery = a_delivery(engine, broken, mail, backoff=Backoff(first=60, cap=60))
    first, second = paid_order(services)[2], paid_order(services)[2]

    assert delivery.deliver() == 2

    assert mailed == [first, second]
    assert position_of(engine, broken.name)["failing_event_id"] == first


def test_after_its_last_attempt_an_event_is_parked_and_the_subscriber_moves_on(
    services, engine: Engine
) -> None:
    poisoned = paid_order(services)[2]

    def fails_on_one(envelope: dict[str, Any], connection: Connection) -> None:
        if envelope["id"] == poisoned:
            raise FlakyUpstream(f"cannot book {poisoned}")
        subscribers.add_to_sales_ledger(envelope, connection)

    picky = subscription(unique("book"), fails_on_one)
    start_at = seq_of(engine, poisoned) - 1  # just before the poisoned event
    with engine.begin() as connection:
        connection.execute(insert(subscriber_positions).values(
            subscriber=picky.name, position=start_at, failures=0, updated_at=utcnow()))
    delivery = SubscriberDelivery(engine, [picky], max_attempts=3, backoff=NO_WAIT)
    before = ledger(engine)
    later = paid_order(services)[2]

    applied = [delivery.deliver() for _ in range(3)]

    assert applied == [0, 0, 1]  # two failures, the third parks it and books the later one
    [parked] = find_parked(engine, subscriber=picky.name)
    assert (parked.event_id, parked.attempts, parked.type) == (poisoned, 3, "OrderPaid")
    assert parked.last_error == f"FlakyUpstream: cannot book {poisoned}"
    assert booked_since(engine, before) == (1, Decimal("2.50"))
    assert position_of(engine, picky.name)["position"] >= seq_of(engine, later)
    assert position_of(engine, picky.name)["failures"] == 0


def test_a_redrive_that_fails_again_keeps_the_event_parked_with_the_new_error(
    services, engine: Engine
) -> None:
    def fails(envelope: dict[str, Any], connection: Connection) -> None:
        raise FlakyUpstream("still down")

    broken = subscription(unique("book"), fails)
    delivery = a_delivery(engine, broken, max_attempts=1)
    event_id = paid_order(services)[2]
    delivery.deliver()
    [parked] = find_parked(engine, subscriber=broken.name)

    def fails_differently(envelope: dict[str, Any], connection: Connection) -> None:
        raise FlakyUpstream("down for maintenance")

    [result] = redrive(engine, [subscription(broken.name, fails_differently)], [parked])

    assert (result.outcome, result.error) == ("failed", "FlakyUpstream: down for maintenance")
    [still] = find_parked(engine, subscriber=broken.name)
    assert (still.event_id, still.attempts) == (event_id, 2)
    assert still.last_error == "FlakyUpstream: down for maintenance"


def test_two_relays_delivering_at_once_book_each_payment_once(services, engine: Engine) -> None:
    ledger_subscriber = subscription(unique("book"), subscribers.add_to_sales_ledger)
    caught_up(engine, ledger_subscriber)
    relays = [SubscriberDelivery(engine, [ledger_subscriber], batch_size=1) for _ in range(2)]
    before = ledger(engine)
    for _ in range(4):
        paid_order(services)
    start = threading.Barrier(2, timeout=30)

    def run(delivery: SubscriberDelivery) -> None:
        start.wait()
        for _ in range(20):
            delivery.deliver()

    threads = [threading.Thread(target=run, args=(relay,)) for relay in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert booked_since(engine, before) == (4, Decimal("10.00"))


def test_the_registry_subscribers_book_a_payment_and_take_it_back_on_cancel(
    services, engine: Engine
) -> None:
    ledger_subscribers = subscriptions_from(
        {"OrderPaid": [subscribers.add_to_sales_ledger],
         "OrderCancelled": [subscribers.remove_from_sales_ledger]}
    )
    renamed = [subscription(unique(s.name), s.handle, *s.types) for s in ledger_subscribers]
    delivery = a_delivery(engine, *renamed)
    before = ledger(engine)
    order_id, _, _ = paid_order(services)
    assert delivery.deliver() == 1
    assert booked_since(engine, before) == (1, Decimal("2.50"))

    services.execute(
        record_command(engine, "CancelOrder", {"order_id": order_id, "reason": "changed my mind"})
    )
    assert delivery.deliver() == 1
    assert booked_since(engine, before) == (0, Decimal(0))


def test_cancelling_an_unpaid_order_leaves_the_sales_ledger_alone(
    services, engine: Engine
) -> None:
    refunds = subscription(unique("refund"), subscribers.remove_from_sales_ledger,
                           "OrderCancelled")
    delivery = a_delivery(engine, refunds)
    order_id, before = str(uuid.uuid4()), ledger(engine)
    services.execute(record_command(engine, "PlaceOrder", place_order_payload(order_id)))
    cancel = services.execute(
        record_command(engine, "CancelOrder", {"order_id": order_id, "reason": "too slow"})
    )
    assert cancel.status == "succeeded"
    assert delivery.deliver() == 1
    assert booked_since(engine, before) == (0, Decimal(0))


def test_a_subscriber_new_to_the_relay_starts_from_the_oldest_event(
    services, engine: Engine
) -> None:
    seen: list[str] = []
    newcomer = subscription(unique("audit"), lambda envelope, _: seen.append(envelope["id"]))
    event_id = paid_order(services)[2]

    # No gap waiting: other tests of the session may have left fresh gaps on PostgreSQL.
    SubscriberDelivery(
        engine, [newcomer], batch_size=100_000, gap_settle=timedelta(0)
    ).deliver()

    assert event_id in seen
    assert position_of(engine, newcomer.name)["position"] >= seq_of(engine, event_id)


def test_redis_down_does_not_stop_delivery(services, engine: Engine) -> None:
    # `services` has no Redis at all: the events were never published, and still delivered.
    seen: list[str] = []
    audit = subscription(unique("audit"), lambda envelope, _: seen.append(envelope["id"]))
    delivery = a_delivery(engine, audit)
    event_id = paid_order(services)[2]
    assert delivery.deliver() == 1
    assert seen == [event_id]
    with engine.connect() as connection:
        published = connection.execute(
            select(events.c.published_at).where(events.c.event_id == event_id)
        ).scalar_one()
    assert published is None


def test_an_event_that_commits_after_a_later_one_is_not_skipped(engine: Engine) -> None:
    if not is_postgres(engine):
        pytest.skip("SQLite has one writer: seq order is commit order there")
    from domain.events import OrderPaid
    from orderwire.outbox.store import SqlOutbox

    seen: list[str] = []
    audit = subscription(unique("audit"), lambda envelope, _: seen.append(envelope["id"]))
    delivery = a_delivery(engine, audit)

    def append(connection: Connection) -> str:
        return SqlOutbox(connection).append(
            OrderPaid(order_id="o", total=Decimal("1.00")), aggregate_id=str(uuid.uuid4()),
            aggregate_version=1, request_id="r", audience=[],
        ).event_id

    with engine.connect() as slow:
        late_transaction = slow.begin()
        late = append(slow)  # takes the lower seq, commits last
        with engine.begin() as fast:
            early = append(fast)

        assert delivery.deliver() == 0  # the gap below `early` may still commit: wait
        late_transaction.commit()
    assert delivery.deliver() == 2
    assert seen == [late, early]  # seq order, nothing skipped

    with engine.connect() as rolled_back, rolled_back.begin() as transaction:
        append(rolled_back)
        transaction.rollback()
    with engine.begin() as connection:
        after_gap = append(connection)
    quick = SubscriberDelivery(engine, [audit], gap_settle=timedelta(seconds=1))
    assert quick.deliver() == 0  # the gap is fresh
    wait_for(lambda: quick.deliver() == 1, timeout=30, what="the gap to be given up on")
    assert seen[-1] == after_gap
