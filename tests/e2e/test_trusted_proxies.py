"""Behind a real TLS-terminating proxy (tools/harness/proxy.py with its TLS edge) in front
of gunicorn, with TRUSTED_PROXIES naming the proxy's address: the app sees each client's
own address and the https origin the browser used; anyone else's forwarded headers are
ignored.

Loopback has many addresses: the proxy connects to gunicorn from 127.0.0.2 (the trusted
one), clients reach the proxy or gunicorn from 127.0.0.1, 127.0.0.3 and 127.0.0.4.
"""

import http.client
import json
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import websocket

from tests.payloads import a_line, order_body
from tools.harness.proxy import Proxy
from tools.harness.system import System
from tools.harness.tls_edge import TlsEdge
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

PROXY_ADDRESS = "127.0.0.2"
ORDER = order_body("Ada", a_line("tea", 1, "2.50"))


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """gunicorn alone (no worker is needed to accept commands or open a socket)."""
    system = System(
        tmp_path_factory.mktemp("proxied"),
        env={"TRUSTED_PROXIES": f"{PROXY_ADDRESS}/32", "ORDERWIRE_RATE_LIMIT": "3/86400"},
    )
    system.redis.start()
    system.create_schema()
    system.start_web()
    try:
        wait_for(system._web_ready, timeout=30, what="gunicorn to answer /healthz")
        yield system
    except BaseException:
        system.dump_logs()
        raise
    finally:
        system.stop()


@pytest.fixture(scope="module")
def proxy(web: System, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    edge = TlsEdge(tmp_path_factory.mktemp("proxy"))
    with Proxy(("127.0.0.1", web.port), source_address=PROXY_ADDRESS, edge=edge) as running:
        yield running


def request(
    host: str, port: int, method: str, path: str, *, source: str, tls: ssl.SSLContext | None,
    body: Any = None, headers: dict[str, str] | None = None,
) -> http.client.HTTPResponse:
    """One request from the loopback address `source` (http.client can pick it; requests cannot)."""
    if tls is None:
        connection = http.client.HTTPConnection(host, port, timeout=10, source_address=(source, 0))
    else:
        connection = http.client.HTTPSConnection(
            host, port, timeout=10, source_address=(source, 0), context=tls
        )
    payload = None if body is None else json.dumps(body)
    sent = {"Content-Type": "application/json", **(headers or {})}
    connection.request(method, path, body=payload, headers=sent)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def ca_file(proxy: Proxy) -> str:
    """The CA a client trusts to reach this module's proxy, which always terminates TLS."""
    assert proxy.edge is not None
    return str(proxy.edge.ca_file)


def client_tls(proxy: Proxy) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file(proxy))


def place_through_proxy(proxy: Proxy, source: str, **headers: str) -> int:
    return request(
        "127.0.0.1", proxy.port, "POST", "/api/orders", source=source,
        tls=client_tls(proxy), body=ORDER, headers=headers,
    ).status


def test_each_client_behind_the_proxy_has_its_own_rate_limit(
    web: System, proxy: Proxy
) -> None:
    first, second = "127.0.0.3", "127.0.0.4"
    assert [place_through_proxy(proxy, first) for _ in range(3)] == [202, 202, 202]
    assert place_through_proxy(proxy, first) == 429
    # A header the client made up is kept to the left of what the proxy saw: no escape.
    assert place_through_proxy(proxy, first, **{"X-Forwarded-For": "203.0.113.9"}) == 429
    assert place_through_proxy(proxy, second) == 202
    log = (web.logs / "web.log").read_text()
    refused = [json.loads(line) for line in log.splitlines() if "rate_limit.refused" in line]
    assert refused and {line["client"] for line in refused} == {first}
    accepted = [json.loads(line) for line in log.splitlines() if "command.accepted" in line]
    assert {line["client"] for line in accepted} >= {first, second}
    assert PROXY_ADDRESS not in {line["client"] for line in accepted}


def test_forwarded_headers_from_a_client_that_is_not_a_proxy_are_ignored(web: System) -> None:
    # Straight to gunicorn from 127.0.0.5: every new X-Forwarded-For would be a new client.
    spoofing = "127.0.0.5"
    statuses = [
        request(
            "127.0.0.1", web.port, "POST", "/api/orders", source=spoofing, tls=None, body=ORDER,
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        ).status
        for n in range(5)
    ]
    assert statuses == [202, 202, 202, 429, 429]


def test_the_session_cookie_is_secure_when_the_browser_used_tls(
    web: System, proxy: Proxy
) -> None:
    over_tls = request(
        "127.0.0.1", proxy.port, "GET", "/", source="127.0.0.1", tls=client_tls(proxy)
    )
    assert over_tls.status == 200
    assert "secure" in over_tls.headers["Set-Cookie"].lower()
    # Without a proxy vouching for TLS, a made-up X-Forwarded-Proto changes nothing.
    in_clear = request(
        "127.0.0.1", web.port, "GET", "/", source="127.0.0.1", tls=None,
        headers={"X-Forwarded-Proto": "https"},
    )
    assert in_clear.status == 200
    assert "secure" not in in_clear.headers["Set-Cookie"].lower()


def session_cookie(proxy: Proxy) -> str:
    page = request("127.0.0.1", proxy.port, "GET", "/", source="127.0.0.1", tls=client_tls(proxy))
    return page.headers["Set-Cookie"].split(";", 1)[0]


def test_a_page_served_over_the_tls_proxy_opens_its_websocket(proxy: Proxy) -> None:
    ws = websocket.create_connection(
        f"wss://127.0.0.1:{proxy.port}/ws",
        cookie=session_cookie(proxy),
        origin=proxy.base_url,
        sslopt={"ca_certs": ca_file(proxy)},
        timeout=10,
    )
    try:
        assert json.loads(ws.recv())["kind"] == "hello"
    finally:
        ws.close()


def test_a_made_up_forwarded_host_does_not_pass_the_origin_check(
    web: System, proxy: Proxy
) -> None:
    # The attacker's page, origin https://evil.example, claims through headers to be that
    # host; gunicorn was reached directly, so none of it is believed.
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(
            f"ws://127.0.0.1:{web.port}/ws",
            cookie=session_cookie(proxy),
            origin="https://evil.example",
            header=["X-Forwarded-Proto: https", "X-Forwarded-Host: evil.example"],
            timeout=10,
        )
    assert refused.value.status_code == 403

