"""Taking a command in, for the JSON API and the no-JavaScript forms alike: reading the body,
checking its shape (the action's schema, web/actions.py), building the domain command, and
accepting it: durably recorded first, then enqueued, then answered 202.

The insert *is* the
idempotency check (a unique request id), so concurrent duplicates cannot race;
enqueueing after the commit means a worker never sees a command that is not
stored, and if enqueueing fails the sweeper sends it later.

Ownership: a request id is scoped to its session (the command log's key is derived from
both), and a command on an order is taken only from the session that owns the order or
is placing it; from any other it is a 404, as for an order that does not exist.
"""

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify, request
from marshmallow import Schema, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import MultiDict

from domain.commands import Command, PlaceOrder
from domain.errors import InvalidCommand
from orderwire.command_payloads import to_payload
from orderwire.db import command_log, read_models
from orderwire.db.command_log import KeyReused, NewCommand
from orderwire.db.driver_transaction import DriverTransaction
from orderwire.logs import request_id_var
from web.actions import PLACE_ORDER, Action
from web.api.errors import ApiError
from web.api.formats import canonical_uuid
from web.api.schemas import flatten_errors
from web.extensions import services as orderwire_services
from web.sessions import session_id

log = logging.getLogger("orderwire.web")

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def json_body(*, empty_is_object: bool) -> Any:
    """The request's JSON body; ApiError 415 if it is not JSON, 400 if it does not parse."""
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


def form_body(action: Action, form: MultiDict[str, str]) -> dict[str, Any]:
    """An order action's form as the JSON body the API takes: its schema's fields."""
    return {name: form.get(name, "") for name in action.schema.fields}


def lines_from_form(form: MultiDict[str, str]) -> list[dict[str, Any]]:
    """The order form's filled rows, in order (empty spare rows dropped), so `lines.N` in
    an error names the N-th row shown again."""
    lines = []
    for product, quantity, price in zip(
        form.getlist("product"), form.getlist("quantity"), form.getlist("unit_price"), strict=False
    ):
        if not (product.strip() or quantity.strip() or price.strip()):
            continue
        lines.append(
            {
                "product": product,
                "quantity": int(quantity) if quantity.strip().lstrip("-").isdigit() else quantity,
                "unit_price": price.strip(),
            }
        )
    return lines


def form_request_id(form: MultiDict[str, str]) -> str:
    # The form carries a key made when it was rendered: a double click submits once.
    return valid_request_id(form.get("idempotency_key")) or str(uuid.uuid4())


def load(schema: Schema, body: Any, extra_fields: dict[str, list[str]] | None = None) -> Any:
    """The body checked against `schema`; ApiError 422 with every field's problem."""
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


def _build(command_type: type[Command], data: Mapping[str, Any]) -> Command:
    try:
        return command_type.from_dict(data)
    except InvalidCommand as error:
        raise ApiError(
            422, "validation_failed", error.message, fields={"_schema": [error.message]}
        ) from None


def place_order_command(body: Any) -> Command:
    """PlaceOrder from a body; the server assigns the order id when the client sent none."""
    data = load(PLACE_ORDER.schema, body)
    return _build(PlaceOrder, {**data, "order_id": str(data.get("order_id") or uuid.uuid4())})


def order_action_command(action: Action, order_id: str, body: Any) -> Command:
    """Pay, ship or cancel, from the path's order id and the body (the JSON API's and the
    form's alike); ApiError 422 with field errors if either is not valid."""
    parsed = canonical_uuid(order_id)
    problems = {} if parsed else {"order_id": ["must be a UUID"]}
    data = load(action.schema, body, problems)
    return _build(action.command, {**data, "order_id": parsed or order_id})


def submit(command: Command, body: Any) -> Response:
    """Accept a JSON API command under its Idempotency-Key (or X-Request-Id): 202."""
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


def valid_request_id(value: str | None) -> str | None:
    """The Idempotency-Key (or X-Request-Id) header, checked; None if absent."""
    if value is None:
        return None
    if not REQUEST_ID_PATTERN.fullmatch(value):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 128 characters of A-Z a-z 0-9 . _ : -",
        )
    return value


def fingerprint(endpoint: str, body: Any) -> str:
    canonical = json.dumps({"endpoint": endpoint, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def accept(
    command: Command, *, request_id: str, body_fingerprint: str, session_id: str | None
) -> tuple[dict[str, Any], bool]:
    """Record and enqueue; returns (command log row, created). Raises ApiError 404/409/503."""
    request_id_var.set(request_id)  # every line logged from here on names the command
    services = orderwire_services.get()
    new = NewCommand(
        request_id=request_id,
        command=command.name,
        payload=to_payload(command),
        fingerprint=body_fingerprint,
        session_id=session_id,
        order_id=command.order_id,
    )
    try:
        # On the driver (orderwire/db/driver_transaction.py): both statements are prepared.
        with DriverTransaction(services.engine) as connection:
            if not isinstance(command, PlaceOrder) and not read_models.may_act_on(
                connection, command.order_id, session_id
            ):
                raise ApiError(404, "not_found", "no such order")
            record, created = command_log.record(connection, new)
            connection.commit()
    except KeyReused:
        raise ApiError(
            409,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        ) from None
    except SQLAlchemyError:
        log.exception("cannot record the command", extra={"event": "command.unrecorded"})
        raise ApiError(
            503,
            "unavailable",
            "the command could not be stored; try again shortly",
            headers={"Retry-After": "5"},
        ) from None
    if created:
        try:
            services.queue.enqueue_command(command.name, request_id, new.command_id)
        except Exception:
            # Stored but not sent: the sweeper will send it. The client still gets 202.
            log.warning("enqueue failed; the sweeper will retry", exc_info=True)
        else:
            # Counted in Redis too: skipped when Redis just failed, rather than wait on it twice.
            if services.metrics is not None:
                services.metrics.command_accepted(command.name)
        log.info(
            "command accepted",
            extra={
                "event": "command.accepted",
                "command": command.name,
                "path": request.path,
                "client": request.remote_addr,  # the client's, behind TRUSTED_PROXIES
            },
        )
    return record, created
