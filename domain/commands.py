"""Commands: imperative, immutable, valid on construction.

A command that exists is a command that makes sense on its own; whether it is
allowed *now* (the order's status) is the aggregate's decision.
"""

import dataclasses
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Self

from domain.errors import InvalidCommand
from domain.money import at_most_two_places, json_ready, to_money

MAX_LINES = 50
MAX_QUANTITY = 1000
MAX_UNIT_PRICE = Decimal("100000")
MAX_NAME = 100
MAX_PRODUCT = 100
MAX_REASON = 200


# Unassigned code points (Cn) are allowed: they are tomorrow's characters (an emoji newer
# than this Python's Unicode tables is "unassigned" here), and harmless until then.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def has_control_characters(text: str) -> bool:
    """Control and format characters (bidi overrides, zero-width ones), surrogates,
    private-use characters, and the Unicode line and paragraph separators (U+2028, U+2029),
    which break lines in logs and JSON-in-JavaScript alike."""
    return any(unicodedata.category(char) in FORBIDDEN_CATEGORIES for char in text)


def _require_text(name: str, value: object, longest: int) -> str:
    if not isinstance(value, str):
        raise InvalidCommand(f"{name} must be text")
    text = value.strip()
    if not 1 <= len(text) <= longest:
        raise InvalidCommand(f"{name} must be 1 to {longest} characters")
    if has_control_characters(text):
        raise InvalidCommand(f"{name} must not contain control characters")
    return text


# The codes of a refused unit price: not a money amount at all, or one out of range.
PRICE_FORMAT = "unit_price_format"
PRICE_RANGE = "unit_price_range"


def require_unit_price(value: object) -> Decimal:
    """The one price rule: a finite amount with at most 2 decimal places, above 0 and at most
    MAX_UNIT_PRICE. Raises InvalidCommand with code `unit_price_format` (not such an amount)
    or `unit_price_range` (one, but out of range); the web words both for the page."""
    try:
        price = to_money(value)
    except ValueError as error:
        raise InvalidCommand("unit_price must be a decimal amount", code=PRICE_FORMAT) from error
    if not at_most_two_places(price):
        raise InvalidCommand("unit_price must have at most 2 decimal places", code=PRICE_FORMAT)
    if not Decimal(0) < price <= MAX_UNIT_PRICE:
        raise InvalidCommand(
            f"unit_price must be above 0 and at most {MAX_UNIT_PRICE}", code=PRICE_RANGE
        )
    return price


def _plain(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`dataclasses.asdict`'s dict factory: amounts as money text ("12.50"), sequences as
    lists, as JSON gives them back."""
    return {key: json_ready(value) for key, value in pairs}


def _require_uuid(name: str, value: object) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as error:
        raise InvalidCommand(f"{name} must be a UUID") from error


@dataclass(frozen=True)
class OrderLine:
    product: str
    quantity: int
    unit_price: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "product", _require_text("product", self.product, MAX_PRODUCT))
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise InvalidCommand("quantity must be a whole number")
        if not 1 <= self.quantity <= MAX_QUANTITY:
            raise InvalidCommand(f"quantity must be 1 to {MAX_QUANTITY}")
        object.__setattr__(self, "unit_price", require_unit_price(self.unit_price))

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity

    def as_dict(self) -> dict[str, Any]:
        """`{"product", "quantity", "unit_price": "12.50"}`: a line in payloads, events, rows."""
        return dataclasses.asdict(self, dict_factory=_plain)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The line `as_dict` wrote (or a request's); raises KeyError for a missing field and
        InvalidCommand for a wrong one."""
        return cls(data["product"], data["quantity"], data["unit_price"])


class Command:
    """Base class of everything the bus can execute: frozen dataclasses with an `order_id`.

    `as_dict`/`from_dict` are their payload (the command log stores it; the worker rebuilds
    the command from it): `dataclasses.asdict`, with amounts as text. A command with fields
    that are not plain values rebuilds them in its own `from_dict`."""

    name = "Command"
    order_id: str

    def as_dict(self) -> dict[str, Any]:
        # Every command class is a frozen dataclass; the base is not, so say so to mypy.
        plain: dict[str, Any] = dataclasses.asdict(self, dict_factory=_plain)  # type: ignore[call-overload]
        return plain

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(**data)  # every subclass is a dataclass: its fields are the keywords


@dataclass(frozen=True)
class PlaceOrder(Command):
    order_id: str
    customer_name: str
    lines: tuple[OrderLine, ...] = field(default_factory=tuple)
    name = "PlaceOrder"

    def __post_init__(self) -> None:
        object.__setattr__(self, "order_id", _require_uuid("order_id", self.order_id))
        name = _require_text("customer_name", self.customer_name, MAX_NAME)
        object.__setattr__(self, "customer_name", name)
        lines = tuple(self.lines)
        if not 1 <= len(lines) <= MAX_LINES:
            raise InvalidCommand(f"an order has 1 to {MAX_LINES} lines")
        if not all(isinstance(line, OrderLine) for line in lines):
            raise InvalidCommand("lines must be OrderLine values")
        object.__setattr__(self, "lines", lines)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        lines = tuple(OrderLine.from_dict(line) for line in data["lines"])
        return cls(data["order_id"], data["customer_name"], lines)


@dataclass(frozen=True)
class PayOrder(Command):
    order_id: str
    name = "PayOrder"

    def __post_init__(self) -> None:
        object.__setattr__(self, "order_id", _require_uuid("order_id", self.order_id))


@dataclass(frozen=True)
class ShipOrder(Command):
    order_id: str
    name = "ShipOrder"

    def __post_init__(self) -> None:
        object.__setattr__(self, "order_id", _require_uuid("order_id", self.order_id))


@dataclass(frozen=True)
class CancelOrder(Command):
    order_id: str
    reason: str
    name = "CancelOrder"

    def __post_init__(self) -> None:
        object.__setattr__(self, "order_id", _require_uuid("order_id", self.order_id))
        object.__setattr__(self, "reason", _require_text("reason", self.reason, MAX_REASON))


COMMAND_TYPES: dict[str, type[Command]] = {
    cls.name: cls for cls in (PlaceOrder, PayOrder, ShipOrder, CancelOrder)
}
