"""The Order aggregate's lifecycle: placed -> paid -> shipped, cancel until shipped."""

from decimal import Decimal

import pytest

from domain.commands import OrderLine
from domain.errors import IllegalTransition
from domain.events import OrderCancelled, OrderPaid, OrderPlaced, OrderShipped
from domain.order import Order, OrderStatus

ORDER_ID = "6f1c2d5e-0000-4000-8000-000000000001"


def a_placed_order() -> Order:
    lines = (OrderLine("tea", 2, Decimal("3.50")), OrderLine("cup", 1, Decimal("12")))
    return Order.place(ORDER_ID, "Grace Hopper", lines, owner_session="s1")


def test_placing_an_order_records_order_placed_with_the_total_as_version_1() -> None:
    order = a_placed_order()
    [recorded] = order.collect_events()
    assert isinstance(recorded.event, OrderPlaced)
    assert recorded.aggregate_id == ORDER_ID and recorded.aggregate_version == 1
    assert recorded.event.total == Decimal("19.00")
    assert recorded.event.data()["total"] == "19.00"
    first_line = recorded.event.data()["lines"][0]
    assert first_line == {"product": "tea", "quantity": 2, "unit_price": "3.50"}


def test_events_are_handed_over_once() -> None:
    order = a_placed_order()
    assert len(order.collect_events()) == 1
    assert order.collect_events() == []


def test_the_happy_path_counts_versions_one_by_one() -> None:
    order = a_placed_order()
    order.pay()
    order.ship()
    recorded = order.collect_events()
    assert [type(r.event) for r in recorded] == [OrderPlaced, OrderPaid, OrderShipped]
    assert [r.aggregate_version for r in recorded] == [1, 2, 3]
    assert order.status is OrderStatus.SHIPPED and order.version == 3


@pytest.mark.parametrize("paid_first", [False, True])
def test_an_order_can_be_cancelled_until_it_ships(paid_first: bool) -> None:
    order = a_placed_order()
    if paid_first:
        order.pay()
    order.cancel("changed my mind")
    assert order.status is OrderStatus.CANCELLED
    assert isinstance(order.collect_events()[-1].event, OrderCancelled)


@pytest.mark.parametrize(
    ("steps", "action", "code"),
    [
        (["pay"], "pay", "order_already_paid"),
        ([], "ship", "order_not_paid"),
        (["cancel"], "pay", "order_cancelled"),
        (["cancel"], "ship", "order_cancelled"),
        (["pay", "ship"], "pay", "order_already_shipped"),
        (["pay", "ship"], "ship", "order_already_shipped"),
        (["pay", "ship"], "cancel", "order_already_shipped"),
        (["cancel"], "cancel", "order_already_cancelled"),
    ],
)
def test_every_illegal_transition_is_refused_with_its_own_code(
    steps: list[str], action: str, code: str
) -> None:
    order = a_placed_order()
    for step in steps:
        getattr(order, step)(*(["reason"] if step == "cancel" else []))
    order.collect_events()
    status, version = order.status, order.version
    with pytest.raises(IllegalTransition) as refused:
        getattr(order, action)(*(["reason"] if action == "cancel" else []))
    assert refused.value.code == code and refused.value.message
    assert order.status is status and order.version == version
    assert order.collect_events() == []
