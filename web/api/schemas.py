"""Request schemas (marshmallow): syntax and shape at the edge, with clear field errors.

The limits come from `domain.commands`, so the web and the domain cannot disagree;
the domain command is still built afterwards and validates itself.
"""

from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from domain import commands as rules
from web.api import messages

REQUIRED = {"required": messages.REQUIRED, "null": messages.REQUIRED}


def _no_control_characters(value: str) -> None:
    if rules.has_control_characters(value):
        raise ValidationError(messages.CONTROL_CHARACTERS)


class TrimmedText(fields.String):
    """Text that is trimmed before its length is checked."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


def text_field(longest: int, empty: str = messages.REQUIRED) -> TrimmedText:
    def length(value: str) -> None:
        if not value:
            raise ValidationError(empty)
        if len(value) > longest:
            raise ValidationError(messages.TOO_LONG.format(longest=longest))

    return TrimmedText(
        required=True,
        error_messages={"required": empty, "null": empty, "invalid": messages.NOT_TEXT},
        validate=[length, _no_control_characters],
    )


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
    unit_price = fields.Decimal(
        required=True, allow_nan=False, as_string=True,
        error_messages={
            **REQUIRED, "invalid": messages.PRICE_FORMAT, "special": messages.PRICE_FORMAT,
        },
    )

    @validates("unit_price")
    def _price(self, value: Decimal, **_kwargs: Any) -> None:
        if value.as_tuple().exponent < -2:  # type: ignore[operator]
            raise ValidationError(messages.PRICE_FORMAT)
        if not Decimal(0) < value <= rules.MAX_UNIT_PRICE:
            raise ValidationError(messages.PRICE_RANGE)


class PlaceOrderSchema(StrictSchema):
    customer_name = text_field(rules.MAX_NAME)
    lines = fields.List(
        fields.Nested(OrderLineSchema),
        required=True,
        error_messages=REQUIRED,
        validate=validate.Length(1, rules.MAX_LINES, error=messages.LINES),
    )
    order_id = fields.UUID()


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
