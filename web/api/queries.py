"""Query endpoints (CONTRACT.md section 3).

A session reads only its own orders and commands; another session's answer 404, exactly
as an id that does not exist, and so does an id that cannot be one (not a UUID, not a
request id): it is never handed to the database, where a NUL byte would be an error.
"""

import logging
import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from orderwire.db import command_log, read_models
from web.api.errors import ApiError
from web.api.formats import canonical_uuid
from web.api.intake import REQUEST_ID_PATTERN
from web.extensions import services
from web.sessions import existing_session_id, session_id

bp = Blueprint("queries", __name__, url_prefix="/api")
log = logging.getLogger("orderwire.web")

MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000


def _not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no such {what}")


def parse_order_id(raw: str) -> str | None:
    """The order id in its stored form, or None if `raw` is not a UUID."""
    return canonical_uuid(raw)


@bp.get("/commands/<request_id>")
def command_status(request_id: str) -> Response:
    session = existing_session_id()
    if session is None or not REQUEST_ID_PATTERN.fullmatch(request_id):
        raise _not_found("command")
    with services.reader().connect() as connection:
        record = command_log.get(connection, command_log.command_id(session, request_id))
    if record is None:
        raise _not_found("command")
    return jsonify(read_models.command_status(_with_attempt_under_way(record)))


def _with_attempt_under_way(record: dict[str, Any]) -> dict[str, Any]:
    """A worker commits `running` only together with the outcome (one write transaction per
    attempt), so an attempt under way is read from the attempt counter: the command shows
    `running`, with that attempt's number, until the attempt ends or goes stale."""
    orderwire = services.get()
    if record["status"] != command_log.CommandStatus.ACCEPTED or orderwire.attempts is None:
        return record
    try:
        attempt = orderwire.attempts.under_way(
            record["command_id"], time.time() - orderwire.settings.sweep_running_after
        )
    except Exception:  # the log's own answer stands
        log.warning("cannot read the attempt counter", exc_info=True)
        return record
    if attempt is None:
        return record
    return {**record, "status": command_log.CommandStatus.RUNNING,
            "attempts": max(attempt, record["attempts"])}


@bp.get("/orders/<order_id>")
def order(order_id: str) -> Response:
    parsed = parse_order_id(order_id)
    if parsed is None:
        raise _not_found("order")
    with services.reader().connect() as connection:
        found = read_models.order(connection, parsed, existing_session_id())
    if found is None:
        raise _not_found("order")
    return jsonify(found)


@bp.get("/orders/<order_id>/events")
def order_events(order_id: str) -> Response:
    parsed = parse_order_id(order_id)
    if parsed is None:
        raise _not_found("order")
    with services.reader().connect() as connection:
        if read_models.order(connection, parsed, existing_session_id()) is None:
            raise _not_found("order")
        return jsonify({"events": read_models.order_events(connection, parsed)})


def _positive(name: str, default: int, highest: int) -> int:
    raw = request.args.get(name, str(default))
    # isascii: "²".isdigit() is true, and int("²") raises.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= highest:
        raise ApiError(
            422, "validation_failed", f"{name} must be 1 to {highest}", fields={name: ["invalid"]}
        )
    return int(raw)


@bp.get("/orders")
def my_orders() -> Response:
    page = _positive("page", 1, MAX_PAGE)
    per_page = _positive("per_page", 20, MAX_PER_PAGE)
    with services.reader().connect() as connection:
        items, more = read_models.orders_of_session(
            connection, session_id(), page=page, per_page=per_page
        )
    return jsonify(
        {
            "orders": items,
            "page": page,
            "per_page": per_page,
            "next_page": page + 1 if more else None,
        }
    )


@bp.get("/notifications")
def my_notifications() -> Response:
    with services.reader().connect() as connection:
        items = read_models.notifications_of_session(connection, session_id())
    return jsonify({"notifications": items})
