"""HTML pages. Every action works as a plain form POST (CSRF-protected, then a redirect);
static/app.js upgrades the same pages to live updates without reloads."""

import uuid
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from orderwire.db import read_models
from web.api.commands import load, place_order_command
from web.api.errors import ApiError
from web.api.intake import accept, fingerprint, reader, valid_request_id
from web.api.schemas import CancelOrderSchema, PlaceOrderSchema
from web.sessions import session_id

bp = Blueprint("pages", __name__)

ACTIONS = {"pay": "PayOrder", "ship": "ShipOrder", "cancel": "CancelOrder"}


def _form_request_id(form: MultiDict[str, str]) -> str:
    # The form carries a key made when it was rendered: a double click submits once.
    return valid_request_id(form.get("idempotency_key")) or str(uuid.uuid4())


def _lines_from_form(form: MultiDict[str, str]) -> list[dict[str, Any]]:
    lines = []
    for product, quantity, price in zip(
        form.getlist("product"), form.getlist("quantity"), form.getlist("unit_price"), strict=False
    ):
        if not (product.strip() or quantity.strip() or price.strip()):
            continue  # an empty spare row
        lines.append(
            {
                "product": product,
                "quantity": int(quantity) if quantity.strip().lstrip("-").isdigit() else quantity,
                "unit_price": price.strip(),
            }
        )
    return lines


def _index(status: int = 200, errors: dict[str, list[str]] | None = None, form: Any = None):  # type: ignore[no-untyped-def]
    with reader().connect() as connection:
        orders, _ = read_models.orders_of_session(connection, session_id(), page=1, per_page=50)
        notifications = read_models.notifications_of_session(connection, session_id())
    return (
        render_template(
            "index.html",
            orders=orders,
            notifications=notifications,
            errors=errors or {},
            form=form,
            idempotency_key=str(uuid.uuid4()),
        ),
        status,
    )


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    return _index()


@bp.post("/orders")
def place_order_form() -> Any:
    body = {"customer_name": request.form.get("customer_name", ""), "lines": _lines_from_form(request.form)}
    try:
        command = place_order_command(load(PlaceOrderSchema(), body))
        record, _ = accept(
            command,
            request_id=_form_request_id(request.form),
            body_fingerprint=fingerprint("POST /orders", body),
            session_id=session_id(),
        )
    except ApiError as error:
        return _index(error.status if error.status != 400 else 422, error.fields or {"_schema": [error.message]}, request.form)
    return redirect(url_for("pages.order_page", order_id=record["order_id"]), 303)


@bp.get("/orders/<order_id>")
def order_page(order_id: str) -> Any:
    with reader().connect() as connection:
        order = read_models.order(connection, order_id)
        timeline = read_models.order_events(connection, order_id) if order else []
    return render_template(
        "order.html",
        order_id=order_id,
        order=order,
        timeline=timeline,
        idempotency_key=str(uuid.uuid4()),
    ), (200 if order else 202)


@bp.post("/orders/<order_id>/<action>")
def order_action_form(order_id: str, action: str) -> Response:
    from domain.commands import CancelOrder, PayOrder, ShipOrder
    from web.api.commands import _build, _path_order_id

    if action not in ACTIONS:
        return redirect(url_for("pages.order_page", order_id=order_id), 303)
    order_id, problems = _path_order_id(order_id)
    body: dict[str, Any] = {"reason": request.form.get("reason", "")} if action == "cancel" else {}
    try:
        if action == "cancel":
            data = load(CancelOrderSchema(), body, problems)
            command = _build(CancelOrder, order_id, data["reason"])
        else:
            if problems:
                raise ApiError(422, "validation_failed", "invalid order id", fields=problems)
            command = _build(PayOrder if action == "pay" else ShipOrder, order_id)
        accept(
            command,
            request_id=_form_request_id(request.form),
            body_fingerprint=fingerprint(f"POST /orders/{order_id}/{action}", body),
            session_id=session_id(),
        )
    except ApiError:
        pass  # the order page shows the order as it is; the API gives the details
    return redirect(url_for("pages.order_page", order_id=order_id), 303)
