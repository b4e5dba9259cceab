"""`GET /openapi.json`: the HTTP API (CONTRACT.md sections 2 and 3) as an OpenAPI 3 document.

Request bodies come from the same marshmallow schemas that validate them
(web/api/schemas.py), and the command paths from the same table that routes them
(web/actions.py), so the document cannot drift from what the server accepts; answers
are described by the response schemas of web/api/answers.py, and the reads by the
table below. The document is built once per process, on first request.
"""

import copy
import functools
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, jsonify
from marshmallow import fields

from domain.commands import MAX_UNIT_PRICE
from web.actions import ORDER_ACTIONS, PLACE_ORDER, Action
from web.api.answers import ANSWERS, REQUEST_ID
from web.api.formats import PRICE_TEXT, text_pattern
from web.api.queries import MAX_PAGE, MAX_PER_PAGE
from web.api.schemas import CanonicalUUID, Price, TrimmedText

bp = Blueprint("openapi", __name__)

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


def _read(summary: str, responses: dict[str, Any], *parameters: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if parameters:
        operation["parameters"] = list(parameters)
    return operation


def _plain(description: str, media_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": schema}}}


# Every GET, by path (the commands' paths come from web/actions.py).
READS: dict[str, dict[str, Any]] = {
    "/api/orders": _read(
        "the orders of the caller's session, newest first",
        {
            "200": _json("OrderPage", "one page of orders"),
            "422": _error("validation_failed: page or per_page out of range"),
        },
        {"in": "query", "name": "page",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
        {"in": "query", "name": "per_page",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}},
    ),
    "/api/commands/{request_id}": _read(
        "a command's status",
        {"200": _json("CommandStatus", "the command"), "404": _not_found("command")},
        {"in": "path", "name": "request_id", "required": True, "schema": REQUEST_ID},
    ),
    "/api/orders/{order_id}": _read(
        "an order",
        {"200": _json("Order", "the order"), "404": _not_found("order")},
        ORDER_ID,
    ),
    "/api/orders/{order_id}/events": _read(
        "an order's events, in version order",
        {"200": _json("OrderEvents", "the order's timeline"), "404": _not_found("order")},
        ORDER_ID,
    ),
    "/api/notifications": _read(
        "the caller's session's newest notifications",
        {"200": _json("Notifications", "notifications, newest first")},
    ),
    "/healthz": _read("the process is alive", {"200": _json("Health", "alive")}),
    "/readyz": _read(
        "the database and Redis answer",
        {
            "200": _json("Readiness", "ready"),
            "503": _json("Readiness", "a dependency is down (named in `down`)"),
        },
    ),
    "/metrics": _read(
        "Prometheus metrics",
        {"200": _plain("Prometheus text exposition format", "text/plain", {"type": "string"})},
    ),
    "/openapi.json": _read(
        "this document",
        {"200": _plain("OpenAPI 3", "application/json", {"type": "object"})},
    ),
}


def _order_command(action: Action) -> dict[str, Any]:
    operation = _command(action)
    operation["parameters"] = [ORDER_ID, *operation["parameters"]]
    # An order this session neither owns nor is placing, exactly as one that does not exist.
    operation["responses"]["404"] = _not_found("order")
    return operation


def _paths() -> dict[str, dict[str, Any]]:
    """Every path's operations: the commands from the action table, then the reads."""
    paths: dict[str, dict[str, Any]] = {"/api/orders": {"post": _command(PLACE_ORDER)}}
    for action in ORDER_ACTIONS.values():
        paths[f"/api/orders/{{order_id}}/{action.name}"] = {"post": _order_command(action)}
    for path, operation in READS.items():
        paths.setdefault(path, {})["get"] = copy.deepcopy(operation)
    return paths


def build_spec() -> dict[str, Any]:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="orderwire",
        version="1",
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": "Commands in (202 Accepted), queries out. See CONTRACT.md."},
    )
    assert plugin.converter is not None  # made by APISpec(plugins=[plugin]) above
    plugin.converter.add_attribute_function(_exact_formats)
    bodies = {action.schema_name: type(action.schema) for action in _actions()}
    for name, schema in (*bodies.items(), *ANSWERS.items()):
        spec.components.schema(name, schema=schema)
    for name in bodies:
        # Unknown fields are rejected (422): say so, so generated bodies respect it.
        spec.components.schemas[name]["additionalProperties"] = False
    for path, operations in _paths().items():
        spec.path(path=path, operations=operations)
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
