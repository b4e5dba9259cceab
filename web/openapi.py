"""`GET /openapi.json`: the HTTP API (CONTRACT.md sections 2 and 3) as an OpenAPI 3 document.

Request bodies come from the same marshmallow schemas that validate them
(web/api/schemas.py), and the command paths from the same table that routes them
(web/actions.py), so the document cannot drift from what the server accepts; answers
are described by the small response schemas below. The document is built once per
process, on first request.
"""

import functools
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, jsonify
from marshmallow import Schema, fields

from domain.commands import MAX_UNIT_PRICE
from domain.order import OrderStatus
from web.actions import ORDER_ACTIONS, PLACE_ORDER, Action
from web.api.formats import PRICE_TEXT, text_pattern
from web.api.queries import MAX_PAGE, MAX_PER_PAGE
from web.api.schemas import CanonicalUUID, Price, TrimmedText

bp = Blueprint("openapi", __name__)

STATUSES = ["accepted", "running", "succeeded", "rejected", "failed"]
ORDER_STATUSES = [status.value for status in OrderStatus]
REQUEST_ID = {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}
MONEY = {"type": "string", "pattern": r"^\d+\.\d{2}$"}


class FieldErrors(fields.Dict):
    """`{"lines.0.quantity": ["must be 1 to 1000"]}`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(keys=fields.String(), values=fields.List(fields.String()), **kwargs)


class ErrorBodySchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    field_errors = FieldErrors(data_key="fields")


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class AcceptedSchema(Schema):
    request_id = fields.String(required=True, metadata=REQUEST_ID)
    command = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": STATUSES})
    status_url = fields.String(required=True)
    order_id = fields.UUID(required=True, allow_none=True)


class CommandStatusSchema(Schema):
    request_id = fields.String(required=True, metadata=REQUEST_ID)
    command = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": STATUSES})
    attempts = fields.Integer(required=True, metadata={"minimum": 0})
    result = fields.Dict(required=True, allow_none=True)
    error = fields.Dict(required=True, allow_none=True)
    accepted_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(required=True, allow_none=True)
    order_id = fields.UUID(allow_none=True)


class OrderLineOutSchema(Schema):
    product = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit_price = fields.String(required=True, metadata=MONEY)


class OrderSchema(Schema):
    order_id = fields.UUID(required=True)
    customer_name = fields.String(required=True)
    lines = fields.List(fields.Nested(OrderLineOutSchema), required=True)
    total = fields.String(required=True, metadata=MONEY)
    status = fields.String(required=True, metadata={"enum": ORDER_STATUSES})
    version = fields.Integer(required=True, metadata={"minimum": 1})
    placed_at = fields.DateTime(required=True)


class OrderPageSchema(Schema):
    orders = fields.List(fields.Nested(OrderSchema), required=True)
    page = fields.Integer(required=True, metadata={"minimum": 1})
    per_page = fields.Integer(required=True, metadata={"minimum": 1, "maximum": 100})
    next_page = fields.Integer(required=True, allow_none=True)


class EnvelopeSchema(Schema):
    id = fields.String(required=True)
    type = fields.String(required=True)
    version = fields.Integer(required=True)
    occurred_at = fields.String(required=True)
    request_id = fields.String(required=True, allow_none=True)
    aggregate_id = fields.String(required=True)
    aggregate_version = fields.Integer(required=True, metadata={"minimum": 1})
    data = fields.Dict(required=True)


class OrderEventsSchema(Schema):
    events = fields.List(fields.Nested(EnvelopeSchema), required=True)


class NotificationSchema(Schema):
    notification_id = fields.String(required=True)
    order_id = fields.String(required=True)
    text = fields.String(required=True)
    created_at = fields.String(required=True)


class NotificationsSchema(Schema):
    notifications = fields.List(fields.Nested(NotificationSchema), required=True)


class HealthSchema(Schema):
    status = fields.String(required=True)


class ConsumingWorkerSchema(Schema):
    node = fields.String(required=True)
    seconds_since_consumed = fields.Float(required=True)


class ReadinessSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["ready", "unavailable"]})
    down = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    # Information only: workers never make /readyz 503 (docs/operations.md).
    workers_consuming = fields.List(fields.Nested(ConsumingWorkerSchema), required=True)


def _exact_formats(converter: Any, field: fields.Field, ret: dict, **_: Any) -> dict:
    """What marshmallow's own mapping cannot say, stated as the server checks it
    (web/api/formats.py): trimmed text, prices as text or number, canonical UUIDs."""
    if isinstance(field, Price):
        ret.pop("type", None)
        return {
            "description": (
                f"above 0 and at most {MAX_UNIT_PRICE} with at most 2 decimal places, as a "
                'decimal string like "12.50" or a number'
            ),
            "oneOf": [
                {"type": "string", "pattern": PRICE_TEXT.pattern},
                # A JSON number is a double: JSON Schema's multipleOf 0.01 is checked in binary
                # floating point, as the server checks a number (whole cents up to rounding).
                {"type": "number", "minimum": 0, "exclusiveMinimum": True,
                 "maximum": float(MAX_UNIT_PRICE), "multipleOf": 0.01},
            ],
        }
    if isinstance(field, TrimmedText):
        longest = field.longest
        # The length counts after trimming, so the raw string has no maxLength: the pattern
        # says it (surrounding whitespace, then 1 to `longest` allowed characters).
        ret.pop("minLength", None)
        ret.pop("maxLength", None)
        return {
            "pattern": text_pattern(longest),
            "description": f"1 to {longest} characters once surrounding whitespace is trimmed; "
            "no control, format, surrogate, private-use or line/paragraph separator characters",
        }
    if isinstance(field, CanonicalUUID):
        return {"format": "uuid"}
    return {}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": "Error"}},
    }
    if headers:
        response["headers"] = headers
    return response


def _json(schema: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if headers:
        response["headers"] = headers
    return response


RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds to wait"}}
UNAVAILABLE = _error("unavailable: the database (or, for what needs it, Redis) cannot be "
                     "reached; nothing was changed", RETRY_AFTER)
ACCEPTED_HEADERS = {
    "Location": {"schema": {"type": "string"}, "description": "the command's status URL"},
    "Idempotent-Replayed": {
        "schema": {"type": "string", "enum": ["true"]},
        "description": "present when this key was seen before with the same request",
    },
}
KEY_HEADERS = [
    {
        "in": "header",
        "name": name,
        "required": False,
        "schema": REQUEST_ID,
        "description": "the command's request id (1-128 of A-Z a-z 0-9 . _ : -)",
    }
    for name in ("Idempotency-Key", "X-Request-Id")
]
ORDER_ID = {"in": "path", "name": "order_id", "required": True,
            "schema": {"type": "string", "format": "uuid"}}


def _command(action: Action) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": action.command.name,
        "parameters": list(KEY_HEADERS),
        "responses": {
            "202": _json("Accepted", "accepted (or replayed, with Idempotent-Replayed)",
                         ACCEPTED_HEADERS),
            "400": _error("malformed_json, or an invalid Idempotency-Key"),
            "409": _error("idempotency_key_reused: the key was used for another request"),
            "413": _error("payload_too_large: the body is over 64 KiB"),
            "415": _error("unsupported_media_type: the body is not application/json"),
            "422": _error("validation_failed, with `fields`"),
            "429": _error("rate_limited: too many commands from this client", RETRY_AFTER),
            "503": UNAVAILABLE,
        },
    }
    operation["requestBody"] = {
        "required": action.body_required,
        "content": {"application/json": {"schema": action.schema_name}},
    }
    return operation


def _not_found(what: str) -> dict[str, Any]:
    return _error(f"not_found: no such {what} in this session")


def _with_outages(document: dict[str, Any]) -> dict[str, Any]:
    """Every operation that reads the database may answer 503 (web/outages.py)."""
    for path, item in document["paths"].items():
        if path in ("/healthz", "/metrics", "/openapi.json", "/readyz"):
            continue
        for operation in item.values():
            operation["responses"].setdefault("503", UNAVAILABLE)
    return document


def build_spec() -> dict[str, Any]:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="orderwire",
        version="1",
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": "Commands in (202 Accepted), queries out. See CONTRACT.md."},
    )
    plugin.converter.add_attribute_function(_exact_formats)
    bodies = {action.schema_name: type(action.schema) for action in _actions()}
    for name, schema in (
        *bodies.items(),
        ("Accepted", AcceptedSchema),
        ("CommandStatus", CommandStatusSchema),
        ("Order", OrderSchema),
        ("OrderPage", OrderPageSchema),
        ("OrderEvents", OrderEventsSchema),
        ("Notifications", NotificationsSchema),
        ("Health", HealthSchema),
        ("Readiness", ReadinessSchema),
        ("Error", ErrorSchema),
    ):
        spec.components.schema(name, schema=schema)
    for name in bodies:
        # Unknown fields are rejected (422): say so, so generated bodies respect it.
        spec.components.schemas[name]["additionalProperties"] = False

    spec.path(
        path="/api/orders",
        operations={
            "post": _command(PLACE_ORDER),
            "get": {
                "summary": "the orders of the caller's session, newest first",
                "parameters": [
                    {"in": "query", "name": "page",
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
                    {
                        "in": "query",
                        "name": "per_page",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                    },
                ],
                "responses": {
                    "200": _json("OrderPage", "one page of orders"),
                    "422": _error("validation_failed: page or per_page out of range"),
                },
            },
        },
    )
    for action in ORDER_ACTIONS.values():
        operation = _command(action)
        operation["parameters"] = [ORDER_ID, *operation["parameters"]]
        # An order this session neither owns nor is placing, exactly as one that does not exist.
        operation["responses"]["404"] = _not_found("order")
        spec.path(path=f"/api/orders/{{order_id}}/{action.name}", operations={"post": operation})
    spec.path(
        path="/api/commands/{request_id}",
        operations={
            "get": {
                "summary": "a command's status",
                "parameters": [
                    {"in": "path", "name": "request_id", "required": True,
                     "schema": REQUEST_ID},
                ],
                "responses": {
                    "200": _json("CommandStatus", "the command"),
                    "404": _not_found("command"),
                },
            }
        },
    )
    spec.path(
        path="/api/orders/{order_id}",
        operations={
            "get": {
                "summary": "an order",
                "parameters": [ORDER_ID],
                "responses": {"200": _json("Order", "the order"), "404": _not_found("order")},
            }
        },
    )
    spec.path(
        path="/api/orders/{order_id}/events",
        operations={
            "get": {
                "summary": "an order's events, in version order",
                "parameters": [ORDER_ID],
                "responses": {
                    "200": _json("OrderEvents", "the order's timeline"),
                    "404": _not_found("order"),
                },
            }
        },
    )
    spec.path(
        path="/api/notifications",
        operations={
            "get": {
                "summary": "the caller's session's newest notifications",
                "responses": {"200": _json("Notifications", "notifications, newest first")},
            }
        },
    )
    spec.path(
        path="/healthz",
        operations={
            "get": {
                "summary": "the process is alive",
                "responses": {"200": _json("Health", "alive")},
            }
        },
    )
    spec.path(
        path="/readyz",
        operations={
            "get": {
                "summary": "the database and Redis answer",
                "responses": {
                    "200": _json("Readiness", "ready"),
                    "503": _json("Readiness", "a dependency is down (named in `down`)"),
                },
            }
        },
    )
    spec.path(
        path="/metrics",
        operations={
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    )
    spec.path(
        path="/openapi.json",
        operations={
            "get": {
                "summary": "this document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    )
    return _with_outages(spec.to_dict())


def _actions() -> tuple[Action, ...]:
    return (PLACE_ORDER, *ORDER_ACTIONS.values())


@functools.cache
def _served_document() -> dict[str, Any]:
    """Built on the first request, then shared: it depends on the code alone."""
    return build_spec()


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(_served_document())
