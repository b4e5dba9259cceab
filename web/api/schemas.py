"""Request schemas (marshmallow): syntax and shape at the edge, with clear field errors.

The limits come from `domain.commands`, so the web and the domain cannot disagree;
the domain command is still built afterwards and validates itself.
"""

from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate
from marshmallow.types import ErrorMessages

from domain import commands as rules
from domain.errors import InvalidCommand
from web.api import messages
from web.api.formats import canonical_uuid, price_from_number, price_from_text

REQUIRED: ErrorMessages = {"required": messages.REQUIRED, "null": messages.REQUIRED}


def _no_control_characters(value: str) -> None:
    if rules.has_control_characters(value):
        raise ValidationError(messages.CONTROL_CHARACTERS)


class TrimmedText(fields.String):
    """Text that is trimmed before its length (1 to `longest`) is checked."""

    def __init__(self, longest: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.longest = longest

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


def text_field(longest: int, empty: str = messages.REQUIRED) -> TrimmedText:
    def length(value: str) -> None:
        if not value:
            raise ValidationError(empty)
        if len(value) > longest:
            raise ValidationError(messages.TOO_LONG.format(longest=longest))

    return TrimmedText(
        longest,
        required=True,
        error_messages={"required": empty, "null": empty, "invalid": messages.NOT_TEXT},
        validate=[length, _no_control_characters],
    )


class Price(fields.Field):
    """A unit price: a decimal string ("12.50") or a JSON number that is a whole number of
    cents; above 0 and at most 100000 (web/api/formats.py has the exact rule)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, str):
            price = price_from_text(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            price = price_from_number(value)
        else:
            price = None
        if price is None:
            raise ValidationError(_what_is_wrong_with(value))
        return price


def _what_is_wrong_with(price: Any) -> str:
    """The page's words for a refused price: out of range if it is otherwise an amount the
    domain takes (its one price rule, `domain.commands.require_unit_price`), else not a
    price at all (that includes an amount not written the way the API takes one)."""
    if isinstance(price, bool) or not isinstance(price, str | int | float):
        return messages.PRICE_FORMAT
    try:
        rules.require_unit_price(price)
    except InvalidCommand as error:
        return messages.PRICE_RANGE if error.code == rules.PRICE_RANGE else messages.PRICE_FORMAT
    return messages.PRICE_FORMAT


class CanonicalUUID(fields.String):
    """A UUID in its hyphenated form (any case), returned lower-case."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        found = canonical_uuid(super()._deserialize(value, attr, data, **kwargs))
        if found is None:
            raise ValidationError(messages.UUID)
        return found


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class OrderLineSchema(StrictSchema):
    product = text_field(rules.MAX_PRODUCT)
    quantity = fields.Integer(
        required=True,
        strict=True,
        error_messages={**REQUIRED, "invalid": messages.QUANTITY, "too_large": messages.QUANTITY},
        validate=validate.Range(1, rules.MAX_QUANTITY, error=messages.QUANTITY),
    )
    unit_price = Price(required=True, error_messages=REQUIRED)


class PlaceOrderSchema(StrictSchema):
    customer_name = text_field(rules.MAX_NAME)
    lines = fields.List(
        fields.Nested(OrderLineSchema),
        required=True,
        error_messages=REQUIRED,
        validate=validate.Length(1, rules.MAX_LINES, error=messages.LINES),
    )
    order_id = CanonicalUUID()


class EmptySchema(StrictSchema):
    """Pay and ship take no fields."""


class CancelOrderSchema(StrictSchema):
    reason = text_field(rules.MAX_REASON, empty=messages.REASON_REQUIRED)


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested errors as dotted paths: {"lines.0.quantity": ["..."]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = "" if key == "_schema" else str(key)
            path = f"{prefix}.{name}" if prefix and name else (prefix or name or "_schema")
            flat.update(flatten_errors(value, path))
    elif isinstance(messages, list) and all(isinstance(item, str) for item in messages):
        flat[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            flat.update(flatten_errors(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat
