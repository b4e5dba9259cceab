"""The 64 KiB body limit holds for every transfer encoding, over real HTTP to gunicorn:
with a Content-Length, and chunked (where werkzeug alone would read the first 64 KiB and
silently drop the rest). Also the answers a real server gives for ids it cannot parse."""

import http.client
import json

import pytest
import requests

from tests.payloads import a_line, order_body
from tools.harness.system import System

pytestmark = pytest.mark.e2e

LIMIT = 64 * 1024
ORDER = order_body("Ada", a_line("tea", 1, "1.00"))


def chunked_post(system: System, path: str, pieces: list[bytes],
                 content_type: str = "application/json") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", system.port, timeout=30)
    try:
        connection.request("POST", path, body=iter(pieces), encode_chunked=True,
                           headers={"Content-Type": content_type,
                                    "Transfer-Encoding": "chunked"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_chunked_body_over_64_kib_is_413_even_when_its_start_is_valid_json(
    system: System,
) -> None:
    # The attack: valid JSON, then 70 KB of spaces, sent in chunks.
    start = json.dumps(ORDER).encode()
    status, body = chunked_post(system, "/api/orders", [start] + [b" " * 7000] * 10)
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_a_chunked_body_within_the_limit_is_read_whole(system: System) -> None:
    start = json.dumps(ORDER).encode()
    padding = LIMIT - len(start)
    status, body = chunked_post(system, "/api/orders", [start, b" " * (padding // 2),
                                                     b" " * (padding - padding // 2)])
    assert status == 202, body
    assert json.loads(body)["command"] == "PlaceOrder"


def test_a_body_with_a_content_length_over_64_kib_is_413(system: System) -> None:
    raw = json.dumps(ORDER).encode() + b" " * LIMIT
    answer = requests.post(f"{system.base_url}/api/orders", data=raw, timeout=30,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"


def test_a_chunked_form_over_64_kib_is_413(system: System) -> None:
    pieces = [b"customer_name=" + b"a" * 1000] + [b"a" * 7000] * 10
    status, _ = chunked_post(system, "/orders", pieces,
                             content_type="application/x-www-form-urlencoded")
    assert status == 413


@pytest.mark.parametrize("path", ["/api/orders/%00", "/api/orders/%00/events",
                                  "/api/commands/%00", "/orders/%00"])
def test_a_nul_byte_in_a_path_is_404_from_the_real_server(system: System, path: str) -> None:
    session = requests.Session()
    session.get(f"{system.base_url}/", timeout=10)
    assert session.get(f"{system.base_url}{path}", timeout=10).status_code == 404
