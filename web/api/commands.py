"""Command endpoints: POST, validate, accept, 202 (CONTRACT.md section 2)."""

import json
import uuid
from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import Schema, ValidationError

from domain.commands import CancelOrder, Command, OrderLine, PayOrder, PlaceOrder, ShipOrder
from domain.errors import InvalidCommand
from orderwire.logs import request_id_var
from web.api.errors import ApiError
from web.api.formats import canonical_uuid
from web.api.intake import accept, fingerprint, valid_request_id
from web.api.schemas import (
    CancelOrderSchema,
    EmptySchema,
    PlaceOrderSchema,
    flatten_errors,
)
from web.rate_limit import enforce as enforce_rate_limit
from web.sessions import session_id

bp = Blueprint("commands", __name__, url_prefix="/api")
# Built once: a schema instance is stateless once built and safe to share between requests,
# and building one per request (deep copies of every field) cost 3-4% of a POST's CPU.
PLACE_ORDER_SCHEMA = PlaceOrderSchema()
# Every command endpoint counts against the client's rate limit (web/rate_limit.py).
bp.before_request(enforce_rate_limit)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def json_body(*, empty_is_object: bool) -> Any:
    raw = request.get_data(cache=True)
    # Pay and ship have nothing to say: no body at all (and so no content type) is `{}`.
    if not raw and empty_is_object:
        return {}
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    if not raw.strip() and empty_is_object:
        return {}
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {error}") from None


def load(schema: Schema, body: Any, extra_fields: dict[str, list[str]] | None = None) -> Any:
    errors = dict(extra_fields or {})
    data: dict[str, Any] = {}
    if not isinstance(body, dict):
        errors["_schema"] = ["the body must be a JSON object"]
    else:
        try:
            data = schema.load(body)
        except ValidationError as error:
            errors.update(flatten_errors(error.messages))
    if errors:
        raise ApiError(422, "validation_failed", "the command is not valid", fields=errors)
    return data


def _path_order_id(order_id: str) -> tuple[str, dict[str, list[str]]]:
    parsed = canonical_uuid(order_id)
    return (parsed, {}) if parsed else (order_id, {"order_id": ["must be a UUID"]})


def _build(factory: Any, *args: Any, **fields: Any) -> Any:
    try:
        return factory(*args, **fields)
    except InvalidCommand as error:
        raise ApiError(
            422, "validation_failed", error.message, fields={"_schema": [error.message]}
        ) from None


def submit(command: Any, body: Any) -> Response:
    # Both headers are checked when present (the document states both), even though the
    # Idempotency-Key wins when both come.
    key = valid_request_id(request.headers.get("Idempotency-Key"))
    alias = valid_request_id(request.headers.get("X-Request-Id"))
    request_id = key or alias or str(uuid.uuid4())
    request_id_var.set(request_id)
    record, created = accept(
        command,
        request_id=request_id,
        body_fingerprint=fingerprint(f"{request.method} {request.path}", body),
        session_id=session_id(),
    )
    return accepted_response(record, replayed=not created)


def accepted_response(record: dict[str, Any], *, replayed: bool) -> Response:
    status_url = f"/api/commands/{record['request_id']}"
    response = jsonify(
        {
            "request_id": record["request_id"],
            "command": record["command"],
            "status": record["status"],
            "status_url": status_url,
            "order_id": record["order_id"],
        }
    )
    response.status_code = 202
    response.headers["Location"] = status_url
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def place_order_command(data: dict[str, Any]) -> PlaceOrder:
    lines = tuple(
        OrderLine(line["product"], line["quantity"], line["unit_price"]) for line in data["lines"]
    )
    order_id = str(data.get("order_id") or uuid.uuid4())
    return _build(PlaceOrder, order_id, data["customer_name"], lines)


@bp.post("/orders")
def place_order() -> Response:
    body = json_body(empty_is_object=False)
    data = load(PLACE_ORDER_SCHEMA, body)
    return submit(place_order_command(data), body)


# The order's task buttons: each action's command and the schema of its body.
ORDER_ACTIONS: dict[str, tuple[type[Command], Schema]] = {
    "pay": (PayOrder, EmptySchema()),
    "ship": (ShipOrder, EmptySchema()),
    "cancel": (CancelOrder, CancelOrderSchema()),
}


def order_action_command(action: str, order_id: str, body: Any) -> Command:
    """Pay, ship or cancel, from the path's order id and the body (the JSON API's and the
    form's alike); ApiError 422 with field errors if either is not valid."""
    command_type, schema = ORDER_ACTIONS[action]
    order_id, problems = _path_order_id(order_id)
    data = load(schema, body, problems)
    return _build(command_type, order_id, **data)


def _order_action(action: str, order_id: str) -> Response:
    # Pay and ship take no fields, so an empty body counts as `{}`.
    body = json_body(empty_is_object=action != "cancel")
    return submit(order_action_command(action, order_id, body), body)


@bp.post("/orders/<order_id>/pay")
def pay_order(order_id: str) -> Response:
    return _order_action("pay", order_id)


@bp.post("/orders/<order_id>/ship")
def ship_order(order_id: str) -> Response:
    return _order_action("ship", order_id)


@bp.post("/orders/<order_id>/cancel")
def cancel_order(order_id: str) -> Response:
    return _order_action("cancel", order_id)
