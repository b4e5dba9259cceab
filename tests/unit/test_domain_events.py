"""Deferred dispatch: aggregates record events, the unit of work collects them, the bus settles
them through the in-transaction subscribers until nothing new is recorded."""

import uuid
from decimal import Decimal

import pytest

from domain.aggregate import Aggregate
from domain.commands import CancelOrder, OrderLine, PayOrder, PlaceOrder
from domain.errors import IllegalTransition
from domain.events import (
    NotificationCreated,
    OrderCancelled,
    OrderPaid,
    OrderPlaced,
    OrderShipped,
    RecordedEvent,
)
from domain.notification import Notification, notification_text
from domain.order import Order
from domain.ports import CommandContext
from orderwire import registry
from orderwire.bus import MessageBus
from tests.fakes import FakeUnitOfWork


def a_placed_order(order_id: str | None = None) -> Order:
    lines = (OrderLine("tea", 2, Decimal("1.25")),)
    return Order.place(order_id or str(uuid.uuid4()), "Ada", lines, owner_session="s1")


def a_bus(subscribers: dict | None = None) -> MessageBus:
    table = registry.IN_TRANSACTION_SUBSCRIBERS if subscribers is None else subscribers
    return MessageBus(registry.COMMAND_HANDLERS, table)


def placed_in(uow: FakeUnitOfWork, bus: MessageBus) -> str:
    order_id = str(uuid.uuid4())
    bus.handle(
        PlaceOrder(order_id, "Ada", (OrderLine("tea", 2, Decimal("1.25")),)),
        uow,
        CommandContext("r-place", "s1"),
    )
    uow.commit()
    return order_id


# --- aggregates ----------------------------------------------------------------------------


def test_an_aggregate_counts_its_versions_1_2_3() -> None:
    order = a_placed_order()
    order.pay()
    order.ship()
    recorded = order.collect_events()
    assert [r.aggregate_version for r in recorded] == [1, 2, 3]
    assert [type(r.event) for r in recorded] == [OrderPlaced, OrderPaid, OrderShipped]
    assert {r.aggregate_id for r in recorded} == {order.order_id}
    assert order.version == 3


def test_a_loaded_aggregate_continues_from_its_stored_version() -> None:
    order = a_placed_order()
    order.collect_events()
    reloaded = Order(order.order_id, "Ada", order.lines, order.status, version=1)
    reloaded.cancel("changed my mind")
    [recorded] = reloaded.collect_events()
    assert isinstance(recorded.event, OrderCancelled) and recorded.aggregate_version == 2


def test_collect_events_hands_each_event_over_once() -> None:
    order = a_placed_order()
    first = order.collect_events()
    assert len(first) == 1
    assert order.collect_events() == []
    order.pay()
    assert [r.aggregate_version for r in order.collect_events()] == [2]
    assert order.collect_events() == []


def test_a_refused_step_records_nothing() -> None:
    order = a_placed_order()
    order.collect_events()
    order.cancel("no")
    order.collect_events()
    with pytest.raises(IllegalTransition):
        order.pay()
    assert order.collect_events() == [] and order.version == 2


def test_a_new_notification_is_version_1_of_its_own_aggregate() -> None:
    notification_id = str(uuid.uuid4())
    notification = Notification.create(notification_id, "some-order", "hello")
    [recorded] = notification.collect_events()
    assert recorded.event == NotificationCreated(notification_id=notification_id, text="hello")
    assert recorded.aggregate_id == notification_id and recorded.aggregate_version == 1
    assert isinstance(notification, Aggregate)


def test_every_order_event_has_a_customer_notification_text() -> None:
    order = a_placed_order()
    order.pay()
    order.cancel("out of stock")
    texts = [notification_text(r.event) for r in order.collect_events()]
    assert texts == [
        "Thank you, Ada: your order of 2.50 is placed.",
        "We received your payment of 2.50.",
        "Your order was cancelled: out of stock",
    ]
    assert notification_text(OrderShipped(order_id="x")) == "Your order is on its way."


# --- the unit of work and the bus ---------------------------------------------------------


def test_the_unit_of_work_collects_from_every_aggregate_it_loaded_or_added() -> None:
    uow = FakeUnitOfWork()
    loaded = a_placed_order()
    loaded.collect_events()
    uow.orders.saved[loaded.order_id] = loaded
    order = uow.orders.get(loaded.order_id)
    assert order is not None
    order.pay()
    uow.orders.add(a_placed_order())
    uow.notifications.add(Notification.create(str(uuid.uuid4()), loaded.order_id, "hi"))
    collected = uow.collect_new_events()
    assert sorted(type(r.event).__name__ for r in collected) == [
        "NotificationCreated",
        "OrderPaid",
        "OrderPlaced",
    ]
    assert uow.collect_new_events() == []


def test_the_bus_settles_events_that_subscribers_record() -> None:
    bus, uow = a_bus(), FakeUnitOfWork()
    order_id = placed_in(uow, bus)
    result, recorded = bus.handle(PayOrder(order_id), uow, CommandContext("r-pay", "s1"))
    assert result["version"] == 2
    assert [type(r.event) for r in recorded] == [OrderPaid, NotificationCreated]
    [notification] = [n for n in uow.notifications.seen.values() if "payment" in n.text]
    assert recorded[1].aggregate_id == notification.notification_id
    notified = recorded[1].event
    assert isinstance(notified, NotificationCreated)
    assert notified.text == "We received your payment of 2.50."
    assert uow.collect_new_events() == []  # settled: nothing left behind


def test_every_subscriber_of_an_event_type_runs_in_table_order() -> None:
    calls: list[str] = []

    def first(recorded: RecordedEvent, uow: FakeUnitOfWork) -> None:
        calls.append(f"first:{recorded.aggregate_version}")

    def second(recorded: RecordedEvent, uow: FakeUnitOfWork) -> None:
        calls.append(f"second:{recorded.aggregate_version}")

    bus, uow = a_bus({OrderCancelled: [first, second]}), FakeUnitOfWork()
    order_id = placed_in(uow, bus)
    assert calls == []  # OrderPlaced has no subscriber in this table
    bus.handle(CancelOrder(order_id, "why"), uow, CommandContext("r-cancel"))
    assert calls == ["first:2", "second:2"]


def test_events_recorded_by_subscribers_reach_their_own_subscribers() -> None:
    seen: list[str] = []

    def notify(recorded: RecordedEvent, uow: FakeUnitOfWork) -> None:
        uow.notifications.add(Notification.create(str(uuid.uuid4()), recorded.aggregate_id, "x"))

    def on_notification(recorded: RecordedEvent, uow: FakeUnitOfWork) -> None:
        assert isinstance(recorded.event, NotificationCreated)
        seen.append(recorded.event.text)

    bus = a_bus({OrderPaid: [notify], NotificationCreated: [on_notification]})
    uow = FakeUnitOfWork()
    order_id = placed_in(uow, bus)
    _, recorded = bus.handle(PayOrder(order_id), uow, CommandContext("r-pay"))
    assert [type(r.event) for r in recorded] == [OrderPaid, NotificationCreated]
    assert seen == ["x"]


def test_a_failing_in_transaction_subscriber_fails_the_command() -> None:
    def broken(recorded: RecordedEvent, uow: FakeUnitOfWork) -> None:
        raise RuntimeError("must be atomic with the command")

    bus, uow = a_bus({OrderPaid: [broken]}), FakeUnitOfWork()
    order_id = placed_in(uow, bus)
    with pytest.raises(RuntimeError, match="atomic"):
        bus.handle(PayOrder(order_id), uow, CommandContext("r-pay"))


# --- the registry ---------------------------------------------------------------------------


def test_every_order_event_creates_a_customer_notification_in_the_transaction() -> None:
    from domain.events import ORDER_EVENTS
    from domain.handlers import create_customer_notification

    for event_type in ORDER_EVENTS:
        assert create_customer_notification in registry.IN_TRANSACTION_SUBSCRIBERS[event_type]


def test_after_commit_subscribers_have_unique_names_because_their_positions_are_keyed_by_them() -> (
    None
):
    by_name: dict[str, set] = {}
    for subscribers in registry.AFTER_COMMIT_SUBSCRIBERS.values():
        for subscriber in subscribers:
            by_name.setdefault(subscriber.__name__, set()).add(subscriber)
    assert by_name and all(len(functions) == 1 for functions in by_name.values())
