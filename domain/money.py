"""Money as `Decimal` with two places, and its one textual form."""

from decimal import Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


def to_money(value: object) -> Decimal:
    """Parse a price; raises ValueError for anything that is not a finite amount."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as error:
        raise ValueError(f"not a decimal amount: {value!r}") from error
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return amount


def at_most_two_places(amount: Decimal) -> bool:
    """Whether `amount` is written with at most two decimal places ("1.5", "1.50"; not
    "1.505", nor "1.500"). False for anything not finite, whose exponent is a letter."""
    exponent = amount.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -2


def money_text(amount: Decimal) -> str:
    """Decimals travel as strings ("12.50") so no client rounds them through a float."""
    return str(amount.quantize(CENT))


def json_ready(value: Any) -> Any:
    """`value` as plain JSON values: amounts as money text, sequences as lists. What events
    and command payloads carry, so no reader rounds a price through a float."""
    if isinstance(value, Decimal):
        return money_text(value)
    if isinstance(value, tuple | list):
        return [json_ready(item) for item in value]
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    return value
