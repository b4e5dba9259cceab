"""Customer notifications: every order event leaves a notification row and a NotificationCreated
event in the command's transaction; the session lists its own and the page shows them escaped."""

import json
import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from orderwire.bootstrap import Orderwire
from orderwire.db.tables import events
from tests.integration.event_helpers import orderwire_on
from tests.payloads import a_key, a_line, order_body
from tests.recorded_commands import execute_request
from web import create_app

pytestmark = pytest.mark.integration

SHADY_NAME = "<script>alert('hi')</script> & Sons"
ORDER = order_body(SHADY_NAME, a_line("kettle", 2, "12.50"))


@pytest.fixture
def services(engine: Engine, database_url: str, redis_server) -> Orderwire:
    return orderwire_on(engine, database_url, redis_server.url)


def a_browser(services: Orderwire) -> FlaskClient:
    client = create_app(services.settings, services=services).test_client()
    assert client.get("/").status_code == 200  # the session cookie
    return client


def submit(services: Orderwire, client: FlaskClient, path: str, body: dict) -> dict:
    """Send a command as the page does, then run it as a worker would."""
    answer = client.post(
        path,
        data=json.dumps(body),
        headers={"Content-Type": "application/json", "Idempotency-Key": a_key("n")},
    )
    assert answer.status_code == 202, answer.get_json()
    accepted = answer.get_json()
    assert execute_request(services, accepted["request_id"]).status == "succeeded"
    return accepted


def notifications(client: FlaskClient) -> list[dict]:
    answer = client.get("/api/notifications")
    assert answer.status_code == 200
    return answer.get_json()["notifications"]


def test_each_order_event_gives_the_customer_a_notification_newest_first(
    services: Orderwire,
) -> None:
    browser = a_browser(services)
    order_id = submit(services, browser, "/api/orders", ORDER)["order_id"]
    submit(services, browser, f"/api/orders/{order_id}/pay", {})
    submit(services, browser, f"/api/orders/{order_id}/cancel", {"reason": "found a cheaper one"})

    listed = notifications(browser)

    assert [note["text"] for note in listed] == [
        "Your order was cancelled: found a cheaper one",
        "We received your payment of 25.00.",
        f"Thank you, {SHADY_NAME}: your order of 25.00 is placed.",
    ]
    assert {note["order_id"] for note in listed} == {order_id}
    assert all(note["created_at"].endswith("Z") for note in listed)


def test_every_notification_is_announced_by_a_notification_created_event(
    services: Orderwire, engine: Engine
) -> None:
    browser = a_browser(services)
    submit(services, browser, "/api/orders", ORDER)
    [note] = notifications(browser)

    with engine.connect() as connection:
        [envelope] = connection.execute(
            select(events.c.envelope).where(events.c.aggregate_id == note["notification_id"])
        ).scalars()
    announced = json.loads(envelope)
    assert announced["type"] == "NotificationCreated" and announced["aggregate_version"] == 1
    assert announced["data"] == {"notification_id": note["notification_id"], "text": note["text"]}


def test_a_session_sees_only_its_own_notifications(services: Orderwire) -> None:
    buyer, stranger = a_browser(services), a_browser(services)
    submit(services, buyer, "/api/orders", ORDER)
    assert len(notifications(buyer)) == 1
    assert notifications(stranger) == []


def test_a_rejected_command_creates_no_notification(services: Orderwire) -> None:
    browser = a_browser(services)
    order_id = str(uuid.uuid4())
    browser.post("/api/orders", json={**ORDER, "order_id": order_id})
    answer = browser.post(
        f"/api/orders/{order_id}/ship",
        data="{}",
        headers={"Content-Type": "application/json"},
    )
    # Shipped before it is placed: the order is not there yet.
    assert execute_request(services, answer.get_json()["request_id"]).status == "rejected"
    assert notifications(browser) == []


def test_the_page_shows_the_notifications_with_their_text_escaped(services: Orderwire) -> None:
    browser = a_browser(services)
    submit(services, browser, "/api/orders", ORDER)

    page = browser.get("/").get_data(as_text=True)

    escaped = "&lt;script&gt;alert(&#39;hi&#39;)&lt;/script&gt; &amp; Sons"
    notes = page.split('id="notifications"', 1)[1].split("</ul>", 1)[0]
    assert f"Thank you, {escaped}: your order of 25.00 is placed." in notes
    assert "<script>alert(" not in page
