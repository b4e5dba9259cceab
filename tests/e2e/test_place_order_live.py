"""The walking skeleton, on real parts: gunicorn, Celery workers, the relay and Redis."""

import pytest

from tests.payloads import ORDER, a_key
from tools.harness.system import System

pytestmark = pytest.mark.e2e


def test_placing_an_order_shows_order_placed_live_to_its_own_page(system: System) -> None:
    browser = system.new_session()
    with system.websocket(browser) as live:
        key = a_key("e2e")
        answer = system.api(browser).post("/api/orders", ORDER, key=key)
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["request_id"] == key and body["status"] == "accepted"
        assert answer.headers["Location"] == f"/api/commands/{key}"

        placed = live.wait_for_event(lambda e: e["type"] == "OrderPlaced", timeout=20)

    assert placed["request_id"] == key
    assert placed["aggregate_id"] == body["order_id"]
    assert placed["aggregate_version"] == 1
    assert placed["data"]["customer_name"] == "Ada Lovelace"
    assert placed["data"]["total"] == "999.90"
    status = system.api(browser).wait_until_final(key)
    assert status["status"] == "succeeded" and status["attempts"] == 1
    order = system.api(browser).order(body["order_id"])
    assert order["status"] == "placed" and order["version"] == 1 and order["total"] == "999.90"


def test_another_session_does_not_receive_the_event(system: System) -> None:
    buyer, stranger = system.new_session(), system.new_session()
    with system.websocket(stranger) as strangers_live, system.websocket(buyer) as buyers_live:
        answer = system.api(buyer).post("/api/orders", ORDER, key=a_key("e2e"))
        assert answer.status_code == 202
        order_id = answer.json()["order_id"]
        buyers_live.wait_for_event(lambda e: e["type"] == "NotificationCreated", timeout=20)
        seen_by_stranger = strangers_live.collect_for(1.0)
    assert all(order_id not in str(event) for event in seen_by_stranger)
    assert [e for e in seen_by_stranger if e.get("aggregate_id") == order_id] == []
