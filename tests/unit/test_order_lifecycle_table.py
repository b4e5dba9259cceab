"""The domain's lifecycle tables (`ALLOWED_IN`, `STATUS_AFTER`): what they say, and that the
aggregate decides by them, for every status and every command on an existing order."""

from decimal import Decimal

import pytest

from domain.commands import CancelOrder, Command, OrderLine, PayOrder, ShipOrder
from domain.errors import IllegalTransition
from domain.order import ALLOWED_IN, STATUS_AFTER, Order, OrderStatus, allowed_commands

ORDER_ID = "6f1c2d5e-0000-4000-8000-000000000003"


def an_order_in(status: OrderStatus) -> Order:
    return Order(ORDER_ID, "Ada", (OrderLine("tea", 1, Decimal("2.00")),), status, version=3)


def carry_out(order: Order, command: type[Command]) -> None:
    if command is PayOrder:
        order.pay()
    elif command is ShipOrder:
        order.ship()
    elif command is CancelOrder:
        order.cancel("changed my mind")
    else:
        raise AssertionError(f"no order method for {command.__name__}")


def test_each_status_allows_what_the_lifecycle_says() -> None:
    assert allowed_commands("placed") == {PayOrder, CancelOrder}
    assert allowed_commands(OrderStatus.PAID) == {ShipOrder, CancelOrder}
    assert allowed_commands("shipped") == frozenset()
    assert allowed_commands("cancelled") == frozenset()


def test_each_order_event_leaves_the_status_it_is_named_for() -> None:
    assert {event.name: status.value for event, status in STATUS_AFTER.items()} == {
        "OrderPlaced": "placed", "OrderPaid": "paid",
        "OrderShipped": "shipped", "OrderCancelled": "cancelled",
    }


def test_placing_leaves_an_order_placed() -> None:
    order = Order.place(ORDER_ID, "Ada", (OrderLine("tea", 1, Decimal("2.00")),))
    [recorded] = order.collect_events()
    assert order.status == STATUS_AFTER[type(recorded.event)] == OrderStatus.PLACED


def test_a_status_that_is_not_an_orders_allows_nothing() -> None:
    assert allowed_commands("pending") == frozenset()
    assert allowed_commands("") == frozenset()


@pytest.mark.parametrize("status", list(OrderStatus))
@pytest.mark.parametrize("command", list(ALLOWED_IN))
def test_the_order_does_exactly_what_the_table_allows(
    status: OrderStatus, command: type[Command]
) -> None:
    order = an_order_in(status)
    if command in allowed_commands(status):
        carry_out(order, command)
        [recorded] = order.collect_events()
        assert recorded.aggregate_version == order.version == 4
        assert order.status == STATUS_AFTER[type(recorded.event)]
    else:
        with pytest.raises(IllegalTransition) as refused:
            carry_out(order, command)
        assert refused.value.code != IllegalTransition.code  # a specific reason, with a code
        assert order.status == status and order.collect_events() == []


def test_a_status_a_transition_names_no_refusal_for_is_still_refused_clearly() -> None:
    """A status added later that an older transition's refusals do not name: refused with a
    code made from the status, not a KeyError that would fail the command after retries."""
    order = an_order_in(OrderStatus.SHIPPED)
    with pytest.raises(IllegalTransition) as refused:
        order._refuse_unless(ShipOrder, {})
    assert refused.value.code == "order_shipped"
    assert refused.value.message == "an order that is shipped cannot take ShipOrder"
