"""The request schemas: shape and syntax at the edge, each problem named by its dotted path."""

from decimal import Decimal
from typing import Any

import pytest
from marshmallow import ValidationError

from tests.payloads import a_line, order_body
from web.api.schemas import CancelOrderSchema, EmptySchema, PlaceOrderSchema, flatten_errors

LINE = a_line("tea", 2, "1.25")


def an_order(**changes: Any) -> dict[str, Any]:
    return {**order_body("Ada", dict(LINE)), **changes}


def with_line(**changes: Any) -> dict[str, Any]:
    return an_order(lines=[dict(LINE), {**LINE, **changes}])


def problems(schema: Any, body: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        schema.load(body)
    return flatten_errors(caught.value.messages)


def test_a_valid_order_loads_with_its_price_as_a_decimal() -> None:
    loaded = PlaceOrderSchema().load(an_order())
    assert loaded == {
        "customer_name": "Ada",
        "lines": [{"product": "tea", "quantity": 2, "unit_price": Decimal("1.25")}],
    }


def test_text_is_trimmed_before_its_length_is_checked() -> None:
    body = an_order(customer_name="  Ada  ", lines=[{**LINE, "product": " tea\t"}])
    loaded = PlaceOrderSchema().load(body)
    assert loaded["customer_name"] == "Ada"
    assert loaded["lines"][0]["product"] == "tea"
    assert problems(PlaceOrderSchema(), an_order(customer_name="   ")) == {
        "customer_name": ["Required."]
    }
    assert CancelOrderSchema().load({"reason": " not needed "}) == {"reason": "not needed"}


def test_a_nested_problem_is_named_by_its_dotted_path() -> None:
    assert problems(PlaceOrderSchema(), with_line(quantity=0)) == {
        "lines.1.quantity": ["A whole number from 1 to 1000."]
    }


def test_every_problem_is_reported_at_once() -> None:
    body = {"customer_name": "", "lines": [{**LINE, "quantity": 1001, "unit_price": "0"}]}
    assert set(problems(PlaceOrderSchema(), body)) == {
        "customer_name",
        "lines.0.quantity",
        "lines.0.unit_price",
    }


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (an_order(coupon="FREE"), "coupon"),
        (with_line(colour="red"), "lines.1.colour"),
    ],
)
def test_unknown_fields_are_rejected(body: dict[str, Any], path: str) -> None:
    assert problems(PlaceOrderSchema(), body) == {path: ["Unknown field."]}


def test_pay_and_ship_take_no_fields_at_all() -> None:
    assert EmptySchema().load({}) == {}
    assert problems(EmptySchema(), {"amount": 5}) == {"amount": ["Unknown field."]}


@pytest.mark.parametrize(
    "price", ["NaN", "Infinity", "-Infinity", "sNaN", float("inf"), float("nan")]
)
def test_nan_and_infinity_are_not_prices(price: Any) -> None:
    assert list(problems(PlaceOrderSchema(), with_line(unit_price=price))) == ["lines.1.unit_price"]


@pytest.mark.parametrize("price", ["1.001", "0.999", "1.000", 12.345, 0.001])
def test_a_price_has_at_most_two_decimal_places(price: Any) -> None:
    assert problems(PlaceOrderSchema(), with_line(unit_price=price)) == {
        "lines.1.unit_price": ["A price like 12.50, with at most 2 decimals."]
    }


@pytest.mark.parametrize(
    "price", ["0", "0.00", "-1", "100000.01", 0, -5, 100000.01, 1.1e308, 10**400]
)
def test_a_price_is_above_zero_and_at_most_100000(price: Any) -> None:
    assert problems(PlaceOrderSchema(), with_line(unit_price=price)) == {
        "lines.1.unit_price": ["Above 0 and at most 100000."]
    }


@pytest.mark.parametrize(
    "price", [" 12.50", "12.50\n", "1e2", "+1", "1.", ".5", "012", "1,50", "\u0661", "", True]
)
def test_a_price_as_text_is_a_plain_decimal(price: Any) -> None:
    # What /openapi.json's pattern says, no more: no exponent, sign, spaces or padding.
    assert problems(PlaceOrderSchema(), with_line(unit_price=price)) == {
        "lines.1.unit_price": ["A price like 12.50, with at most 2 decimals."]
    }


@pytest.mark.parametrize("price", ["100000", "0.01", 12.5, 7, "99999.99", 19.99])
def test_a_price_may_be_a_string_or_a_number(price: Any) -> None:
    loaded = PlaceOrderSchema().load(with_line(unit_price=price))
    assert loaded["lines"][1]["unit_price"] == Decimal(str(price))


def test_a_number_that_is_whole_cents_up_to_float_rounding_is_that_many_cents() -> None:
    # 0.1 * 3 in binary floating point: what a JavaScript client computes for 30 cents.
    loaded = PlaceOrderSchema().load(with_line(unit_price=0.1 * 3))
    assert loaded["lines"][1]["unit_price"] == Decimal("0.30")


@pytest.mark.parametrize("quantity", [1.0, "2", True, None])
def test_a_quantity_is_a_json_integer(quantity: Any) -> None:
    assert list(problems(PlaceOrderSchema(), with_line(quantity=quantity))) == ["lines.1.quantity"]


@pytest.mark.parametrize("name", ["Ada\x00", "A\x1bda", "Ad\u200ba", "Ada\x7fx", "A\x85da"])
def test_control_characters_are_rejected(name: str) -> None:
    assert problems(PlaceOrderSchema(), an_order(customer_name=name)) == {
        "customer_name": ["Must not contain control characters."]
    }
    assert "reason" in problems(CancelOrderSchema(), {"reason": name})


def test_text_too_long_says_how_long_it_may_be() -> None:
    assert problems(PlaceOrderSchema(), an_order(customer_name="x" * 101)) == {
        "customer_name": ["At most 100 characters."]
    }
    assert problems(CancelOrderSchema(), {"reason": "x" * 201}) == {
        "reason": ["At most 200 characters."]
    }
    assert problems(CancelOrderSchema(), {"reason": "  "}) == {
        "reason": ["Say why the order is cancelled."]
    }


def test_text_may_hold_any_printable_script() -> None:
    name = "Zoë Ŀ 李小龍 Ада"
    assert PlaceOrderSchema().load(an_order(customer_name=name))["customer_name"] == name


@pytest.mark.parametrize(
    ("lines", "message"),
    [([], "An order has 1 to 50 lines."), ([LINE] * 51, "An order has 1 to 50 lines.")],
)
def test_an_order_has_one_to_fifty_lines(lines: list[Any], message: str) -> None:
    assert problems(PlaceOrderSchema(), an_order(lines=lines)) == {"lines": [message]}


def test_required_fields_are_named_when_missing() -> None:
    assert problems(PlaceOrderSchema(), {}) == {
        "customer_name": ["Required."],
        "lines": ["Required."],
    }
    assert problems(CancelOrderSchema(), {}) == {"reason": ["Say why the order is cancelled."]}


@pytest.mark.parametrize(
    "order_id",
    ["order-1", "1b4e28ba2fa111d2883f0016d3cca427", "{1b4e28ba-2fa1-11d2-883f-0016d3cca427}"],
)
def test_an_order_id_sent_by_the_client_must_be_a_hyphenated_uuid(order_id: str) -> None:
    # uuid.UUID() takes these too; JSON Schema's "uuid" format, which the document states, not.
    assert problems(PlaceOrderSchema(), an_order(order_id=order_id)) == {
        "order_id": ["An id like 1b4e28ba-2fa1-11d2-883f-0016d3cca427."]
    }


def test_limits_on_lengths() -> None:
    assert "customer_name" in problems(PlaceOrderSchema(), an_order(customer_name="x" * 101))
    assert "lines.1.product" in problems(PlaceOrderSchema(), with_line(product="x" * 101))
    assert "reason" in problems(CancelOrderSchema(), {"reason": "x" * 201})
    assert CancelOrderSchema().load({"reason": "x" * 200})["reason"] == "x" * 200


def test_flatten_errors_names_body_level_problems_schema() -> None:
    assert flatten_errors({"_schema": ["bad"], "lines": {0: {"product": ["short"]}}}) == {
        "_schema": ["bad"],
        "lines.0.product": ["short"],
    }
