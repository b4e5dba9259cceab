"""Query endpoints (CONTRACT.md section 3)."""

import logging
import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from orderwire.db import command_log, read_models
from web.api.errors import ApiError
from web.api.intake import orderwire, reader
from web.sessions import session_id

bp = Blueprint("queries", __name__, url_prefix="/api")
log = logging.getLogger("orderwire.web")

MAX_PER_PAGE = 100


def _not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no such {what}")


@bp.get("/commands/<request_id>")
def command_status(request_id: str) -> Response:
    with reader().connect() as connection:
        record = command_log.get(connection, request_id)
    if record is None:
        raise _not_found("command")
    return jsonify(read_models.command_status(_with_attempt_under_way(record)))


def _with_attempt_under_way(record: dict[str, Any]) -> dict[str, Any]:
    """A worker commits `running` only together with the outcome (one write transaction per
    attempt), so an attempt under way is read from the attempt counter: the command shows
    `running`, with that attempt's number, until the attempt ends or goes stale."""
    services = orderwire()
    if record["status"] != command_log.CommandStatus.ACCEPTED or services.attempts is None:
        return record
    try:
        attempt = services.attempts.under_way(
            record["request_id"], time.time() - services.settings.sweep_running_after
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
    with reader().connect() as connection:
        found = read_models.order(connection, order_id)
    if found is None:
        raise _not_found("order")
    return jsonify(found)


@bp.get("/orders/<order_id>/events")
def order_events(order_id: str) -> Response:
    with reader().connect() as connection:
        if read_models.order(connection, order_id) is None:
            raise _not_found("order")
        return jsonify({"events": read_models.order_events(connection, order_id)})


def _positive(name: str, default: int, highest: int) -> int:
    raw = request.args.get(name, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= highest:
        raise ApiError(
            422, "validation_failed", f"{name} must be 1 to {highest}", fields={name: ["invalid"]}
        )
    return int(raw)


@bp.get("/orders")
def my_orders() -> Response:
    page = _positive("page", 1, 1_000_000)
    per_page = _positive("per_page", 20, MAX_PER_PAGE)
    with reader().connect() as connection:
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
    with reader().connect() as connection:
        items = read_models.notifications_of_session(connection, session_id())
    return jsonify({"notifications": items})
