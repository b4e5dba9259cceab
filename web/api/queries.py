"""Query endpoints (CONTRACT.md section 3)."""

from flask import Blueprint, Response, jsonify, request

from orderwire.db import command_log, read_models
from web.api.errors import ApiError
from web.api.intake import reader
from web.sessions import session_id

bp = Blueprint("queries", __name__, url_prefix="/api")

MAX_PER_PAGE = 100


def _not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no such {what}")


@bp.get("/commands/<request_id>")
def command_status(request_id: str) -> Response:
    with reader().connect() as connection:
        record = command_log.get(connection, request_id)
    if record is None:
        raise _not_found("command")
    return jsonify(read_models.command_status(record))


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
