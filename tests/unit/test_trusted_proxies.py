"""Which forwarded headers are believed: only those our own proxies wrote."""

import json
from typing import Any

from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from web.proxies import TrustedProxies


def seen(request: Request) -> Response:
    return Response(json.dumps([request.remote_addr, request.scheme, request.host]))


def as_seen(wrapper: TrustedProxies, peer: str, **headers: str) -> list[str]:
    client = Client(wrapper)
    answer = client.get("/", headers=headers, environ_base={"REMOTE_ADDR": peer})
    return json.loads(answer.get_data())


def wrapped(**trust: Any) -> TrustedProxies:
    return TrustedProxies(Request.application(seen), **trust)


FORWARDED = {
    "X-Forwarded-For": "198.51.100.1, 10.1.1.1",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "shop.example",
}


def test_by_default_no_forwarded_header_is_believed() -> None:
    assert as_seen(wrapped(), "10.0.0.5", **FORWARDED) == ["10.0.0.5", "http", "localhost"]


def test_a_chain_of_trusted_proxies_yields_the_client_before_it() -> None:
    trusted = wrapped(networks=("10.0.0.0/8",))
    assert as_seen(trusted, "10.0.0.5", **FORWARDED) == ["198.51.100.1", "https", "shop.example"]


def test_the_client_is_the_rightmost_address_no_trusted_proxy_vouches_for() -> None:
    trusted = wrapped(networks=("10.0.0.5/32",))
    # 10.1.1.1 is not ours: whatever stands to its left could be made up by it.
    assert as_seen(trusted, "10.0.0.5", **FORWARDED)[0] == "10.1.1.1"


def test_a_peer_outside_the_list_is_taken_at_its_word_for_nothing() -> None:
    trusted = wrapped(networks=("10.0.0.0/8",))
    assert as_seen(trusted, "192.0.2.7", **FORWARDED) == ["192.0.2.7", "http", "localhost"]


def test_a_hop_count_trusts_that_many_proxies_from_anyone() -> None:
    assert as_seen(wrapped(hops=2), "192.0.2.7", **FORWARDED)[0] == "198.51.100.1"
    assert as_seen(wrapped(hops=1), "192.0.2.7", **FORWARDED)[0] == "10.1.1.1"


def test_ipv6_proxies_and_garbage_in_the_chain() -> None:
    trusted = wrapped(networks=("fd00::/8",))
    assert as_seen(trusted, "fd00::1", **{"X-Forwarded-For": "2001:db8::7"})[0] == "2001:db8::7"
    garbage = {"X-Forwarded-For": "not-an-address, fd00::2"}
    assert as_seen(trusted, "fd00::1", **garbage)[0] == "not-an-address"


def test_an_ipv4_proxy_seen_through_a_dual_stack_socket_is_still_trusted() -> None:
    trusted = wrapped(networks=("10.0.0.0/8",))
    assert as_seen(trusted, "::ffff:10.0.0.5", **FORWARDED)[0] == "198.51.100.1"
