"""A command's payload is its `as_dict` (dataclasses.asdict, amounts as text), and
`from_payload` rebuilds the same command from it, or refuses with InvalidCommand."""

import json
from decimal import Decimal

import pytest

from domain.commands import (
    COMMAND_TYPES,
    PRICE_FORMAT,
    PRICE_RANGE,
    CancelOrder,
    Command,
    OrderLine,
    PayOrder,
    PlaceOrder,
    ShipOrder,
    require_unit_price,
)
from domain.errors import InvalidCommand
from orderwire.command_payloads import from_payload, to_payload

ORDER_ID = "6f1c2d5e-0000-4000-8000-000000000004"
LINES = (OrderLine("tea", 2, Decimal("3.5")), OrderLine("cup", 1, Decimal("12")))
EVERY_COMMAND = [
    PlaceOrder(ORDER_ID, "Ada", LINES),
    PayOrder(ORDER_ID),
    ShipOrder(ORDER_ID),
    CancelOrder(ORDER_ID, "ordered by mistake"),
]


def test_the_examples_cover_every_command_type() -> None:
    assert {type(command) for command in EVERY_COMMAND} == set(COMMAND_TYPES.values())


def test_a_place_order_payload_is_plain_json_with_amounts_as_text() -> None:
    assert to_payload(EVERY_COMMAND[0]) == {
        "order_id": ORDER_ID,
        "customer_name": "Ada",
        "lines": [
            {"product": "tea", "quantity": 2, "unit_price": "3.50"},
            {"product": "cup", "quantity": 1, "unit_price": "12.00"},
        ],
    }


def test_an_order_line_round_trips_through_its_dict() -> None:
    line = OrderLine("tea", 2, Decimal("3.5"))
    assert line.as_dict() == {"product": "tea", "quantity": 2, "unit_price": "3.50"}
    assert OrderLine.from_dict(line.as_dict()) == line


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=lambda command: command.name)
def test_every_command_comes_back_the_same_from_its_stored_payload(command: Command) -> None:
    stored = json.loads(json.dumps(to_payload(command)))  # as the command log keeps it
    assert from_payload(command.name, stored) == command


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("PlaceOrder", {"order_id": ORDER_ID, "customer_name": "Ada"}),
        ("PlaceOrder", {"order_id": ORDER_ID, "customer_name": "Ada", "lines": [{"product": "t"}]}),
        ("PlaceOrder", {"order_id": ORDER_ID, "customer_name": "Ada", "lines": ["tea"]}),
        ("PayOrder", {"order_id": ORDER_ID, "extra": 1}),
        ("CancelOrder", {"order_id": ORDER_ID}),
        ("CancelOrder", {"order_id": ORDER_ID, "reason": ""}),
        ("PayOrder", {"order_id": "not-a-uuid"}),
    ],
)
def test_a_payload_that_does_not_construct_is_an_invalid_command(
    name: str, payload: dict[str, object]
) -> None:
    with pytest.raises(InvalidCommand):
        from_payload(name, payload)


def test_an_unknown_command_name_is_refused_with_its_own_code() -> None:
    with pytest.raises(InvalidCommand) as refused:
        from_payload("RenameOrder", {"order_id": ORDER_ID})
    assert refused.value.code == "unknown_command"


@pytest.mark.parametrize(
    ("price", "code"),
    [("abc", PRICE_FORMAT), ("NaN", PRICE_FORMAT), ("1.001", PRICE_FORMAT),
     ("100000.001", PRICE_FORMAT), ("0", PRICE_RANGE), ("-5", PRICE_RANGE),
     ("100000.01", PRICE_RANGE), ("1E+400", PRICE_RANGE), (float("inf"), PRICE_FORMAT)],
)
def test_the_one_price_rule_names_what_is_wrong(price: object, code: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        require_unit_price(price)
    assert refused.value.code == code


def test_the_one_price_rule_takes_its_limits() -> None:
    assert require_unit_price("0.01") == Decimal("0.01")
    assert require_unit_price(100000) == Decimal("100000")
