"""Money as `Decimal` with two places, and its one textual form."""

from decimal import Decimal, InvalidOperation

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
