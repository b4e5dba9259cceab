"""The HTML pages without JavaScript: forms that POST with a CSRF token and redirect, field
errors next to their fields, task buttons that follow the order's status, user text
escaped. Flask's test client on a real database and Redis; commands are run in-process
(what a worker would do) with `services.execute`."""

import html
import json
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
from tests.payloads import form_fields
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


def found(pattern: str, text: str, flags: int = 0) -> re.Match[str]:
    """`re.search` for what the page must contain: says what is missing when it does not."""
    match = re.search(pattern, text, flags)
    assert match is not None, f"{pattern!r} not found"
    return match


def csrf_token(page: str) -> str:
    return found(r'name="csrf_token" value="([^"]+)"', page).group(1)


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


def action_form(page: str, order_id: str, action: str) -> str:
    """The <form> tag of one action of one order, wherever the page shows it."""
    tag = rf'<form [^>]*data-action="{action}"[^>]*action="/orders/{order_id}/{action}"'
    match = re.search(tag, page, re.S)
    assert match, f"no {action} form for {order_id}"
    return match.group(0)


def offered(page: str, order_id: str) -> set[str]:
    """The actions the page offers on an order: the others are not shown at all."""
    return {action for action in ("pay", "ship", "cancel")
            if " hidden" not in action_form(page, order_id, action)}


def test_the_order_form_places_an_order_and_redirects_to_its_page(
    app: Flask, client: FlaskClient
) -> None:
    answer = place(client)
    assert answer.status_code == 303
    location = re.fullmatch(r"/orders/([0-9a-f-]{36})", answer.headers["Location"])
    assert location is not None, answer.headers["Location"]
    order_id = location.group(1)
    assert run_last_command(app)["status"] == "succeeded"
    page = client.get(f"/orders/{order_id}")
    assert page.status_code == 200
    assert 'id="order-status" data-status="placed"' in page.text
    assert "<td>Loom</td>" in page.text


def test_a_form_post_without_the_csrf_token_is_refused_with_400(client: FlaskClient) -> None:
    client.get("/")
    answer = client.post(
        "/orders",
        data=form_fields(product="Loom", unit_price="1"),
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
    assert re.search(r'data-error-for="lines.0.quantity">A whole number from 1 to 1000.</p>', page)
    assert re.search(r'data-error-for="customer_name">Required.</p>', page)
    assert 'value="Loom"' in page


def test_what_a_user_typed_is_escaped_in_every_page(app: Flask, client: FlaskClient) -> None:
    order_id = place(client, name=HOSTILE).headers["Location"].rsplit("/", 1)[1]
    run_last_command(app)
    for path in ("/", f"/orders/{order_id}"):
        page = client.get(path).text
        assert "<img src=x" not in page
        assert html.escape(HOSTILE, quote=False) in page


def test_only_the_actions_possible_in_the_orders_status_are_offered(
    app: Flask, client: FlaskClient
) -> None:
    order_id = place(client).headers["Location"].rsplit("/", 1)[1]
    run_last_command(app)
    page = client.get("/").text
    assert offered(page, order_id) == {"pay", "cancel"}

    token = csrf_token(page)
    paid = client.post(f"/orders/{order_id}/pay", data={"csrf_token": token})
    assert paid.status_code == 303 and paid.headers["Location"] == f"/orders/{order_id}"
    run_last_command(app)
    assert offered(client.get(f"/orders/{order_id}").text, order_id) == {"ship", "cancel"}

    client.post(f"/orders/{order_id}/ship", data={"csrf_token": token})
    run_last_command(app)
    assert offered(client.get("/").text, order_id) == set()  # finished: nothing to do


def test_every_action_form_carries_the_statuses_the_domain_allows_it_in(
    app: Flask, client: FlaskClient
) -> None:
    """The page script shows and hides actions from these attributes alone, on rendered rows
    and on rows cloned from the template alike, so they must be the domain's table."""
    order_id = place(client).headers["Location"].rsplit("/", 1)[1]
    run_last_command(app)
    expected = {
        "pay": {"placed"}, "ship": {"paid"}, "cancel": {"placed", "paid"},
    }
    for page in (client.get("/").text, client.get(f"/orders/{order_id}").text):
        for action, statuses in expected.items():
            form = action_form(page, order_id, action)
            allowed_in = found(r'data-allowed-in="([^"]*)"', form).group(1)
            assert set(allowed_in.split()) == statuses, (action, form)
    template = client.get("/").text.split('<template id="order-row-template">', 1)[1]
    for action, statuses in expected.items():
        form = found(rf'<form [^>]*data-action="{action}"[^>]*>', template).group(0)
        assert set(found(r'data-allowed-in="([^"]*)"', form).group(1).split()) == statuses


def test_the_page_hands_its_script_the_status_each_order_event_leaves(
    client: FlaskClient,
) -> None:
    page = client.get("/").text
    island = found(r'<script type="application/json" id="order-lifecycle">(.*?)</script>',
                   page, re.S).group(1)
    assert json.loads(island) == {
        "status_after": {
            "OrderPlaced": "placed", "OrderPaid": "paid",
            "OrderShipped": "shipped", "OrderCancelled": "cancelled",
        },
        "command_subjects": {
            "PlaceOrder": "Placing the order", "PayOrder": "Payment",
            "ShipOrder": "Shipping", "CancelOrder": "Cancelling",
        },
    }
    doing = dict(re.findall(r'data-action="(\w+)"[^>]*data-doing="([^"]*)"', page))
    assert doing == {"pay": "Paying…", "ship": "Shipping…", "cancel": "Cancelling…"}
    assert 'data-doing="Placing the order…"' in page


def test_a_refused_command_is_shown_next_to_its_order(app: Flask, client: FlaskClient) -> None:
    order_id = place(client).headers["Location"].rsplit("/", 1)[1]
    run_last_command(app)
    client.post(f"/orders/{order_id}/ship", data={"csrf_token": csrf_token(client.get("/").text)})
    assert run_last_command(app)["status"] == "rejected"

    refusal = "Shipping was refused: an order must be paid before it ships"
    assert refusal in client.get(f"/orders/{order_id}").text
    row = found(rf'data-order-id="{order_id}".*?</li>', client.get("/").text, re.S).group(0)
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
        rf'id="err-reason-{order_id}" data-error-for="reason">Say why the order is cancelled.',
        answer.text,
    )


def test_pages_forbid_inline_scripts(client: FlaskClient) -> None:
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


def test_an_unknown_or_malformed_order_address_is_a_404_page_in_the_sites_style(
    client: FlaskClient,
) -> None:
    client.get("/")
    for path in (f"/orders/{uuid.uuid4()}", "/orders/not-an-order", "/orders/%3Cb%3E"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.mimetype == "text/html"
        assert "Page not found" in answer.text and "being placed" not in answer.text
        assert 'href="/"' in answer.text  # a way back
        assert "<b>" not in answer.text
        assert "script-src 'self'" in answer.headers["Content-Security-Policy"]


def test_other_unknown_pages_are_404_pages_and_unknown_api_paths_stay_json(
    client: FlaskClient,
) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "Page not found" in page.text
    assert 'rel="icon"' in page.text
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"
    wrong_method = client.delete("/")
    assert wrong_method.status_code == 405 and "Not allowed" in wrong_method.text
    assert "GET" in wrong_method.headers["Allow"]


def test_an_order_this_session_is_placing_shows_as_being_placed_and_to_no_one_else(
    app: Flask, client: FlaskClient
) -> None:
    location = place(client).headers["Location"]
    placing = client.get(location)
    assert placing.status_code == 202
    assert "Order being placed" in placing.text

    stranger = app.test_client()
    stranger.get("/")
    assert stranger.get(location).status_code == 404

    run_last_command(app)
    assert client.get(location).status_code == 200


def test_the_favicon_is_served_where_browsers_look_for_it(client: FlaskClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    assert client.get("/static/favicon.svg").status_code == 200


def test_an_order_shows_its_number_date_and_amounts_in_the_configured_currency(
    database_url: str, redis_server: PrivateRedis
) -> None:
    settings = Settings(
        redis_url=redis_server.url, database_url=database_url, environment="test",
        secret_key="test-secret-" + uuid.uuid4().hex, currency="USD",
    )
    app = create_app(settings)
    try:
        client = app.test_client()
        order_id = place(client).headers["Location"].rsplit("/", 1)[1]
        run_last_command(app)
        for path in ("/", f"/orders/{order_id}"):
            page = client.get(path).text
            assert 'data-currency="USD"' in page
            assert f"#{order_id[:8].upper()}" in page
            assert re.search(r'class="total" data-amount="25.00">25.00 USD<', page), path
            assert re.search(r'class="placed" datetime="\d{4}-\d\d-\d\dT[^"]+Z">', page), path
        assert client.get(f"/api/orders/{order_id}").get_json()["placed_at"].endswith("Z")
    finally:
        app.extensions["orderwire"].engine.dispose()


def test_orders_beyond_the_first_fifty_are_one_load_more_away(
    app: Flask, client: FlaskClient
) -> None:
    client.get("/")
    for number in range(51):
        place(client, name=f"Customer {number}")
        run_last_command(app)
    first = client.get("/").text
    rows = re.compile(r'class="order" data-order-id="[0-9a-f]')  # not the empty template row
    assert len(rows.findall(first)) == 50
    assert "Customer 50" in first and "Customer 0<" not in first  # newest first
    assert 'id="load-more"' in first and 'href="/?page=2"' in first

    second = client.get("/?page=2").text
    assert len(rows.findall(second)) == 1 and "Customer 0<" in second
    assert 'id="load-more"' not in second and "Newest orders" in second
    assert client.get("/?page=banana").status_code == 200


def test_the_api_docs_are_served_from_this_app_under_the_pages_policy(
    client: FlaskClient,
) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<script>" not in page.text  # no inline script: the policy would block it
    assert not re.search(r'(src|href)="(https?:)?//', page.text)  # nothing from a CDN
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs/assets/swagger-ui.css").mimetype == "text/css"
    assert client.get("/docs/assets/oauth2-redirect.html").status_code == 404
    assert client.get("/docs/assets/..%2F__init__.py").status_code == 404


def test_an_order_whose_placing_failed_says_why_instead_of_waiting_forever(
    app: Flask, client: FlaskClient
) -> None:
    location = place(client).headers["Location"]
    order_id = location.rsplit("/", 1)[1]
    services = app.extensions["orderwire"]
    with services.engine.begin() as connection:  # as a worker that gave up would leave it
        connection.execute(
            commands.update().where(commands.c.order_id == order_id).values(
                status="failed", error={"code": "gave_up", "message": "The database was away."}
            )
        )
    answer = client.get(location)
    assert answer.status_code == 404
    assert "This order was not placed" in answer.text
    assert "The database was away." in answer.text
    assert "being placed" not in answer.text
