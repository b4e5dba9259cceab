"""The HTML pages without JavaScript: forms that POST with a CSRF token and redirect, field
errors next to their fields, task buttons that follow the order's status, user text
escaped. Flask's test client on a real database and Redis; commands are run in-process
(what a worker would do) with `services.execute`."""

import html
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from orderwire.config import Settings
from orderwire.db.tables import commands
from orderwire.local_redis import PrivateRedis
from web import create_app

pytestmark = pytest.mark.integration

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def app(database_url: str, redis_server: PrivateRedis) -> Iterator[Flask]:
    settings = Settings(
        redis_url=redis_server.url, database_url=database_url,
        secret_key="test-secret-" + uuid.uuid4().hex, environment="test",
    )
    app = create_app(settings)
    yield app
    app.extensions["orderwire"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def place(client: FlaskClient, name: str = "Ada", quantity: str = "2", **extra: Any) -> Any:
    token = csrf_token(client.get("/").text)
    form = {
        "csrf_token": token, "customer_name": name,
        # One filled row and the two empty spare rows a script-less browser sends.
        "product": ["Loom", "", ""], "quantity": [quantity, "", ""],
        "unit_price": ["12.50", "", ""], **extra,
    }
    return client.post("/orders", data=form)


def run_last_command(app: Flask) -> dict[str, Any]:
    """Run the newest accepted command, as a worker would, and return its log row."""
    services = app.extensions["orderwire"]
    with services.engine.connect() as connection:
        command_id = connection.execute(
            select(commands.c.command_id).where(commands.c.status == "accepted")
            .order_by(commands.c.accepted_at.desc()).limit(1)
        ).scalar_one()
    services.execute(command_id)
    with services.engine.connect() as connection:
        row = connection.execute(select(commands).where(commands.c.command_id == command_id)).one()
    return row._asdict()


def button(page: str, order_id: str, action: str) -> str:
    """The <button> tag of one action of one order, wherever the page shows it."""
    match = re.search(
        rf'action="/orders/{order_id}/{action}".*?(<button[^>]*data-action="{action}"[^>]*>)',
        page, re.S,
    )
    assert match, f"no {action} button for {order_id}"
    return match.group(1)


def test_the_order_form_places_an_order_and_redirects_to_its_page(
    app: Flask, client: FlaskClient
) -> None:
    answer = place(client)
    assert answer.status_code == 303
    order_id = re.fullmatch(r"/orders/([0-9a-f-]{36})", answer.headers["Location"]).group(1)
    assert run_last_command(app)["status"] == "succeeded"
    page = client.get(f"/orders/{order_id}")
    assert page.status_code == 200
    assert 'id="order-status" data-status="placed"' in page.text
    assert "<td>Loom</td>" in page.text


def test_a_form_post_without_the_csrf_token_is_refused_with_400(client: FlaskClient) -> None:
    client.get("/")
    answer = client.post(
        "/orders",
        data={"customer_name": "Ada", "product": "Loom", "quantity": "1", "unit_price": "1"},
    )
    assert answer.status_code == 400


def test_an_action_post_without_the_csrf_token_is_refused_with_400(client: FlaskClient) -> None:
    client.get("/")
    assert client.post(f"/orders/{uuid.uuid4()}/pay", data={}).status_code == 400


def test_field_errors_are_shown_next_to_their_fields_and_the_input_is_kept(
    client: FlaskClient,
) -> None:
    answer = place(client, name="  ", quantity="0")
    assert answer.status_code == 422
    page = answer.text
    assert re.search(
        r'id="quantity-0"[^>]*aria-describedby="err-lines-0-quantity"[^>]*aria-invalid="true"',
        page, re.S,
    )
    assert re.search(r'data-error-for="lines.0.quantity">must be 1 to 1000</p>', page)
    assert re.search(r'data-error-for="customer_name">must be 1 to 100 characters</p>', page)
    assert 'value="Loom"' in page


def test_what_a_user_typed_is_escaped_in_every_page(app: Flask, client: FlaskClient) -> None:
    order_id = place(client, name=HOSTILE).headers["Location"].rsplit("/", 1)[1]
    run_last_command(app)
    for path in ("/", f"/orders/{order_id}"):
        page = client.get(path).text
        assert "<img src=x" not in page
        assert html.escape(HOSTILE, quote=False) in page


def test_task_buttons_follow_the_orders_status(app: Flask, client: FlaskClient) -> None:
    order_id = place(client).headers["Location"].rsplit("/", 1)[1]
    run_last_command(app)
    page = client.get("/").text
    assert "disabled" not in button(page, order_id, "pay")
    assert "disabled" in button(page, order_id, "ship")
    assert "disabled" not in button(page, order_id, "cancel")

    token = csrf_token(page)
    paid = client.post(f"/orders/{order_id}/pay", data={"csrf_token": token})
    assert paid.status_code == 303 and paid.headers["Location"] == f"/orders/{order_id}"
    run_last_command(app)
    page = client.get(f"/orders/{order_id}").text
    assert "disabled" in button(page, order_id, "pay")
    assert "disabled" not in button(page, order_id, "ship")

    client.post(f"/orders/{order_id}/ship", data={"csrf_token": token})
    run_last_command(app)
    page = client.get("/").text
    for action in ("pay", "ship", "cancel"):
        assert "disabled" in button(page, order_id, action)


def test_a_refused_command_is_shown_next_to_its_order(app: Flask, client: FlaskClient) -> None:
    order_id = place(client).headers["Location"].rsplit("/", 1)[1]
    run_last_command(app)
    client.post(f"/orders/{order_id}/ship", data={"csrf_token": csrf_token(client.get("/").text)})
    assert run_last_command(app)["status"] == "rejected"

    refusal = "Shipping was refused: an order must be paid before it ships"
    assert refusal in client.get(f"/orders/{order_id}").text
    row = re.search(rf'data-order-id="{order_id}".*?</li>', client.get("/").text, re.S).group(0)
    assert refusal in row


def test_cancelling_without_a_reason_shows_the_error_next_to_the_reason(
    app: Flask, client: FlaskClient
) -> None:
    order_id = place(client).headers["Location"].rsplit("/", 1)[1]
    run_last_command(app)
    token = csrf_token(client.get("/").text)
    answer = client.post(f"/orders/{order_id}/cancel", data={"csrf_token": token, "reason": " "})
    assert answer.status_code == 422
    assert re.search(
        rf'id="err-reason-{order_id}" data-error-for="reason">must be 1 to 200 characters',
        answer.text,
    )


def test_pages_forbid_inline_scripts(client: FlaskClient) -> None:
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
