"""HTML pages. Every action works as a plain form POST (CSRF-protected, then a redirect);
static/js/ upgrades the same pages to live updates and JSON commands without reloads."""

import logging
import uuid
from typing import Any

import redis
from flask import Blueprint, abort, redirect, render_template, request, url_for

from orderwire.db import read_models
from web.actions import ORDER_ACTIONS
from web.api.errors import ApiError
from web.api.intake import (
    accept,
    fingerprint,
    form_body,
    form_request_id,
    lines_from_form,
    order_action_command,
    place_order_command,
)
from web.api.queries import parse_order_id
from web.extensions import services
from web.live.history import SessionHistory
from web.sessions import session_id

log = logging.getLogger("orderwire.web")

bp = Blueprint("pages", __name__)

TIMELINES_ON_INDEX = 20
ORDERS_PER_PAGE = 50  # static/js/orders.js asks the API for the next pages the same size


def _newest_event_id() -> str | None:
    """Where the page's live stream resumes from. Read *before* the database, so every
    event up to it is already in what the page shows (events are published after commit)."""
    try:
        newest = SessionHistory(services.get().redis).newest(session_id())
    except redis.RedisError:
        log.warning("no live history for the page", exc_info=True)
        return None
    return newest[1] if newest else None


def _index(
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    customer_name: str = "",
    lines: list[dict[str, Any]] | None = None,
    page: int = 1,
) -> tuple[str, int]:
    last_event_id = _newest_event_id()
    with services.reader().connect() as connection:
        orders, more = read_models.orders_of_session(
            connection, session_id(), page=page, per_page=ORDERS_PER_PAGE
        )
        notifications = read_models.notifications_of_session(connection, session_id())
        timelines = {
            order["order_id"]: read_models.order_events(connection, order["order_id"])
            for order in orders[:TIMELINES_ON_INDEX]
        }
        refusals = read_models.refusals(
            connection, session_id(), [order["order_id"] for order in orders]
        )
    return (
        render_template(
            "index.html",
            orders=orders,
            page=page,
            next_page=page + 1 if more else None,
            timelines=timelines,
            refusals=refusals,
            notifications=notifications,
            errors=errors or {},
            customer_name=customer_name,
            lines=lines or [],
            idempotency_key=str(uuid.uuid4()),
            last_event_id=last_event_id,
        ),
        status,
    )


@bp.get("/")
def index() -> Any:
    # ?page=N is "Load more" without JavaScript; the script fetches further pages itself.
    page = request.args.get("page", 1, type=int) or 1
    return _index(page=max(1, min(page, 1_000_000)))


@bp.post("/orders")
def place_order_form() -> Any:
    customer_name = request.form.get("customer_name", "")
    lines = lines_from_form(request.form)
    body = {"customer_name": customer_name, "lines": lines}
    try:
        command = place_order_command(body)
        record, _ = accept(
            command,
            request_id=form_request_id(request.form),
            body_fingerprint=fingerprint("POST /orders", body),
            session_id=session_id(),
        )
    except ApiError as error:
        status = 422 if error.status == 400 else error.status
        return _index(status, error.fields or {"_schema": [error.message]}, customer_name, lines)
    return redirect(url_for("pages.order_page", order_id=record["order_id"]), 303)


def _order_page(order_id: str, status: int = 200, errors: dict[str, list[str]] | None = None,
                reason: str = "") -> tuple[str, int]:
    last_event_id = _newest_event_id()
    parsed = parse_order_id(order_id)
    if parsed is None:
        abort(404)
    with services.reader().connect() as connection:
        order = read_models.order(connection, parsed, session_id())
        timeline = read_models.order_events(connection, parsed) if order else []
        refusal = read_models.refusals(connection, session_id(), [parsed]).get(parsed)
        # Another session's order is a 404, as one that does not exist; this session's
        # order still being placed is shown as such (202), or why its placing failed.
        placing = None if order else read_models.placing(connection, parsed, session_id())
    if order is None and placing is None:
        abort(404)  # not ours, and nobody here is placing it: "being placed…" would wait forever
    if placing is not None and status == 200:
        status = _PLACING_STATUS.get(placing["status"], 200)
    return render_template(
        "order.html",
        order_id=parsed,
        order=order,
        placing=placing,
        timeline=timeline,
        refusal=refusal,
        errors=errors or {},
        reason=reason,
        idempotency_key=str(uuid.uuid4()),
        last_event_id=last_event_id,
    ), status


# A page for an order still being placed is 202 (come back); one whose placing was refused
# or failed says why, as 404: there is no such order.
_PLACING_STATUS = {"accepted": 202, "running": 202, "rejected": 404, "failed": 404}


@bp.get("/orders/<order_id>")
def order_page(order_id: str) -> Any:
    return _order_page(order_id)


@bp.post("/orders/<order_id>/<action>")
def order_action_form(order_id: str, action: str) -> Any:
    command_action = ORDER_ACTIONS.get(action)
    if command_action is None:
        return redirect(url_for("pages.order_page", order_id=order_id), 303)
    body = form_body(command_action, request.form)
    try:
        command = order_action_command(command_action, order_id, body)
        order_id = command.order_id
        accept(
            command,
            request_id=form_request_id(request.form),
            body_fingerprint=fingerprint(f"POST /orders/{order_id}/{action}", body),
            session_id=session_id(),
        )
    except ApiError as error:
        # Shown next to the field it concerns (the cancel reason), on the order's page.
        return _order_page(order_id, error.status, error.fields or {"_schema": [error.message]},
                           body.get("reason", ""))
    return redirect(url_for("pages.order_page", order_id=order_id), 303)
