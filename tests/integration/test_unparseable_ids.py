"""An id or path the server cannot parse is a 404 or a 422, never a 500, on SQLite and on
PostgreSQL (which refuses a NUL byte in text: such an id must never reach it)."""

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from orderwire.bootstrap import Orderwire
from tests.payloads import a_line, order_body
from web import create_app

pytestmark = pytest.mark.integration

HOSTILE_IDS = [
    "%00",
    "abc%00def",
    "%ff%fe",  # not UTF-8
    "%C0%AF",  # an overlong encoding
    "..%2F..%2Fetc%2Fpasswd",
    "x" * 5000,
    "%E2%80%AE",  # right-to-left override
    "12345678-1234-1234-1234-1234567890a%00",
    "' OR 1=1 --",
    "%F0%9F%92%A9",
]


@pytest.fixture
def client(services: Orderwire) -> FlaskClient:
    app: Flask = create_app(services.settings, services=services)
    client = app.test_client()
    assert client.get("/").status_code == 200
    return client


def csrf_token(client: FlaskClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(True))
    assert match
    return match.group(1)


@pytest.mark.parametrize("raw", HOSTILE_IDS)
def test_reads_answer_404_for_an_id_that_cannot_be_one(client: FlaskClient, raw: str) -> None:
    for path in (f"/api/orders/{raw}", f"/api/orders/{raw}/events", f"/api/commands/{raw}",
                 f"/orders/{raw}"):
        answer = client.get(path)
        assert answer.status_code == 404, (path, answer.status_code)
        if path.startswith("/api/"):
            assert answer.get_json()["error"]["code"] == "not_found", path


@pytest.mark.parametrize("raw", HOSTILE_IDS)
def test_commands_on_an_id_that_cannot_be_one_are_refused_never_a_500(
    client: FlaskClient, raw: str
) -> None:
    for action, body in (("pay", {}), ("ship", {}), ("cancel", {"reason": "x"})):
        answer = client.post(f"/api/orders/{raw}/{action}", json=body)
        assert answer.status_code in (404, 422), (action, answer.status_code)
        assert set(answer.get_json()["error"]) >= {"code", "message"}
        form = client.post(f"/orders/{raw}/{action}",
                           data={"csrf_token": csrf_token(client), **body})
        assert form.status_code in (404, 422), (action, form.status_code)


@pytest.mark.parametrize("value", ["%00", "\u00b2", "1e3", "-1", "0", "1000001", "9" * 400])
def test_a_page_number_that_cannot_be_one_is_422(client: FlaskClient, value: str) -> None:
    answer = client.get(f"/api/orders?page={value}")
    assert answer.status_code == 422
    assert answer.get_json()["error"]["fields"] == {"page": ["invalid"]}


def test_a_nul_byte_in_a_key_or_a_field_is_refused_before_the_database(
    client: FlaskClient,
) -> None:
    order = order_body("Ada", a_line("tea", 1, "1.00"))
    keyed = client.post("/api/orders", json=order, headers={"Idempotency-Key": "a\x00b"})
    assert keyed.status_code == 400
    named = client.post("/api/orders", json=order_body("Ada\x00", a_line("te\x00a", 1, "1.00")))
    assert named.status_code == 422
    assert {"customer_name", "lines.0.product"} <= set(named.get_json()["error"]["fields"])


def test_an_invalid_alias_header_is_refused_even_beside_a_valid_key(client: FlaskClient) -> None:
    order = order_body("Ada", a_line("tea", 1, "1.00"))
    answer = client.post("/api/orders", json=order,
                         headers={"Idempotency-Key": "fine-key", "X-Request-Id": "not ok!"})
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "invalid_idempotency_key"
