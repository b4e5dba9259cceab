"""Request schemas (marshmallow): syntax and shape at the edge, with clear field errors.

The limits come from `domain.commands`, so the web and the domain cannot disagree;
the domain command is still built afterwards and validates itself.
"""

from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from domain import commands as rules
from web.api.formats import canonical_uuid, price_from_number, price_from_text


def _no_control_characters(value: str) -> None:
    if rules.has_control_characters(value):
        raise ValidationError("must not contain control characters")


class TrimmedText(fields.String):
    """Text that is trimmed before its length is checked."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


def text_field(longest: int) -> TrimmedText:
    return TrimmedText(
        required=True,
        validate=[
            validate.Length(1, longest, error=f"must be 1 to {longest} characters"),
            _no_control_characters,
        ],
    )


class Price(fields.Field):
    """A unit price: a decimal string ("12.50") or a JSON number that is a whole number of
    cents; above 0 and at most 100000 (web/api/formats.py has the exact rule)."""

    MESSAGE = (
        f"must be above 0 and at most {rules.MAX_UNIT_PRICE} with at most 2 decimal places, "
        "as a decimal string like \"12.50\" or a number"
    )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, str):
            price = price_from_text(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            price = price_from_number(value)
        else:
            price = None
        if price is None:
            raise ValidationError(self.MESSAGE)
        return price


class CanonicalUUID(fields.String):
    """A UUID in its hyphenated form (any case), returned lower-case."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        found = canonical_uuid(super()._deserialize(value, attr, data, **kwargs))
        if found is None:
            raise ValidationError("must be a UUID like 1b4e28ba-2fa1-11d2-883f-0016d3cca427")
        return found


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class OrderLineSchema(StrictSchema):
    product = text_field(rules.MAX_PRODUCT)
    quantity = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(1, rules.MAX_QUANTITY, error=f"must be 1 to {rules.MAX_QUANTITY}"),
    )
    unit_price = Price(required=True)


class PlaceOrderSchema(StrictSchema):
    customer_name = text_field(rules.MAX_NAME)
    lines = fields.List(
        fields.Nested(OrderLineSchema),
        required=True,
        validate=validate.Length(
            1, rules.MAX_LINES, error=f"an order has 1 to {rules.MAX_LINES} lines"
        ),
    )
    order_id = CanonicalUUID()


class EmptySchema(StrictSchema):
    """Pay and ship take no fields."""


class CancelOrderSchema(StrictSchema):
    reason = text_field(rules.MAX_REASON)


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
