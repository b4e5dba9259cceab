"""Commands are immutable and valid on construction."""

import dataclasses
from collections.abc import Callable
from decimal import Decimal

import pytest

from domain.commands import CancelOrder, OrderLine, PayOrder, PlaceOrder
from domain.errors import InvalidCommand

ORDER_ID = "6f1c2d5e-0000-4000-8000-000000000002"
LINE = OrderLine("tea", 1, Decimal("1.00"))


def test_a_valid_place_order_trims_the_name_and_parses_prices() -> None:
    # The edge hands over the price as text (JSON); the line parses it.
    line = OrderLine(" tea ", 2, "2.5")  # type: ignore[arg-type]
    command = PlaceOrder(ORDER_ID, "  Ada  ", (line,))
    assert command.customer_name == "Ada"
    assert command.lines[0].product == "tea" and command.lines[0].unit_price == Decimal("2.5")


def test_commands_are_immutable() -> None:
    command = PayOrder(ORDER_ID)
    with pytest.raises(dataclasses.FrozenInstanceError):
        command.order_id = "another"  # type: ignore[misc]  # refused: the point of the test


@pytest.mark.parametrize(
    "build",
    [
        lambda: PlaceOrder("not-a-uuid", "Ada", (LINE,)),
        lambda: PlaceOrder(ORDER_ID, "   ", (LINE,)),
        lambda: PlaceOrder(ORDER_ID, "x" * 101, (LINE,)),
        lambda: PlaceOrder(ORDER_ID, "Ada\x07", (LINE,)),
        lambda: PlaceOrder(ORDER_ID, "Ada\u2028Lovelace", (LINE,)),
        lambda: PlaceOrder(ORDER_ID, "Ada\u200bLovelace", (LINE,)),
        lambda: CancelOrder(ORDER_ID, "line\u2029break"),
        lambda: PlaceOrder(ORDER_ID, "Ada", ()),
        lambda: PlaceOrder(ORDER_ID, "Ada", (LINE,) * 51),
        lambda: OrderLine("tea", 0, Decimal("1")),
        lambda: OrderLine("tea", 1001, Decimal("1")),
        lambda: OrderLine("tea", True, Decimal("1")),
        lambda: OrderLine("tea", 1, Decimal("0")),
        lambda: OrderLine("tea", 1, Decimal("100000.01")),
        lambda: OrderLine("tea", 1, Decimal("1.001")),
        lambda: OrderLine("tea", 1, Decimal("NaN")),
        lambda: OrderLine("tea", 1, Decimal("Infinity")),
        lambda: OrderLine("", 1, Decimal("1")),
        lambda: CancelOrder(ORDER_ID, ""),
        lambda: CancelOrder(ORDER_ID, "r" * 201),
    ],
)
def test_an_invalid_command_cannot_be_constructed(build: Callable[[], object]) -> None:
    with pytest.raises(InvalidCommand):
        build()


def test_the_limits_themselves_are_allowed() -> None:
    line = OrderLine("p" * 100, 1000, Decimal("100000"))
    command = PlaceOrder(ORDER_ID, "n" * 100, (line,) * 50)
    assert len(command.lines) == 50
