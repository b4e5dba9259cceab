"""The one proxy, through each of its options, against a real loopback echo server."""

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.harness.proxy import Proxy
from tools.harness.tls_edge import TlsEdge, rewrite
from tools.harness.waiting import wait_for


class EchoServer:
    """Sends back what it receives; closes its side when the client's side ends."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.peers: list[str] = []
        self.received = b""
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, peer = self.listener.accept()
            except OSError:
                return
            self.peers.append(peer[0])
            threading.Thread(target=self._echo, args=(connection,), daemon=True).start()

    def _echo(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            while data := connection.recv(65536):
                self.received += data
                connection.sendall(data)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


def connect(proxy: Proxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=5)


def round_trip(connection: socket.socket, data: bytes) -> bytes:
    """Send `data` and read the echo."""
    connection.sendall(data)
    return connection.recv(100)


def test_bytes_pass_both_ways_and_the_end_of_a_side_passes_on(echo: EchoServer) -> None:
    with Proxy(("127.0.0.1", echo.port)) as proxy, connect(proxy) as client:
        assert round_trip(client, b"ping") == b"ping"
        client.shutdown(socket.SHUT_WR)
        assert client.recv(100) == b""  # the echo server saw the end and closed its side


def test_a_frozen_connection_stays_open_and_silent_while_new_ones_pass(
    echo: EchoServer,
) -> None:
    with Proxy(("127.0.0.1", echo.port)) as proxy, connect(proxy) as frozen:
        assert round_trip(frozen, b"before") == b"before"
        assert proxy.freeze() == 1
        frozen.sendall(b"after")
        frozen.settimeout(1)
        with pytest.raises(TimeoutError):  # neither an answer nor a close: silence
            frozen.recv(100)
        assert echo.received == b"before"
        with connect(proxy) as fresh:
            assert round_trip(fresh, b"again") == b"again"


def test_an_outage_resets_open_connections_and_refuses_new_ones_until_it_ends(
    echo: EchoServer,
) -> None:
    with Proxy(("127.0.0.1", echo.port)) as proxy, connect(proxy) as victim:
        assert round_trip(victim, b"ping") == b"ping"
        dropped: list[int] = []
        outage = threading.Thread(target=lambda: dropped.append(proxy.outage(2)))
        outage.start()
        with pytest.raises(ConnectionResetError):
            victim.recv(100)

        def refused() -> bool:
            try:
                socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()
            except ConnectionRefusedError:
                return True
            return False

        assert refused()
        outage.join(10)
        assert dropped == [1]
        with connect(proxy) as after:  # the same port again
            assert round_trip(after, b"back") == b"back"


def test_it_connects_upstream_from_its_source_address(echo: EchoServer) -> None:
    with Proxy(("127.0.0.1", echo.port), source_address="127.0.0.2") as proxy:
        with connect(proxy) as client:
            assert round_trip(client, b"x") == b"x"
        with socket.create_connection(("127.0.0.1", echo.port), timeout=5) as direct:
            assert round_trip(direct, b"y") == b"y"
    assert echo.peers == ["127.0.0.2", "127.0.0.1"]


def test_the_tls_edge_terminates_tls_and_adds_the_forwarded_headers(
    echo: EchoServer, tmp_path: Path
) -> None:
    edge = TlsEdge(tmp_path)
    request = (b"GET / HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: 203.0.113.9\r\n"
               b"X-Forwarded-Proto: http\r\nConnection: keep-alive\r\n\r\n")
    with Proxy(("127.0.0.1", echo.port), edge=edge) as proxy:
        assert proxy.base_url == f"https://127.0.0.1:{proxy.port}"
        trusting = ssl.create_default_context(cafile=str(edge.ca_file))
        with trusting.wrap_socket(connect(proxy), server_hostname="127.0.0.1") as client:
            client.sendall(request)
            wait_for(lambda: b"\r\n\r\n" in echo.received, what="the request upstream")
    head = echo.received.decode()
    assert head.startswith("GET / HTTP/1.1\r\n")
    assert "X-Forwarded-For: 203.0.113.9, 127.0.0.1\r\n" in head
    assert "X-Forwarded-Proto: https\r\n" in head
    assert "X-Forwarded-Proto: http\r\n" not in head
    assert "X-Forwarded-Host: shop.example\r\n" in head
    assert "Connection: close\r\n" in head and "keep-alive" not in head


def test_the_tls_edge_refuses_a_client_that_does_not_speak_tls(
    echo: EchoServer, tmp_path: Path
) -> None:
    edge = TlsEdge(tmp_path)
    with Proxy(("127.0.0.1", echo.port), edge=edge) as proxy, connect(proxy) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with contextlib.suppress(ConnectionResetError):  # closed, or reset: either ends it
            while client.recv(100):
                pass  # at most a TLS alert, then the end
    assert echo.peers == []  # nothing reached the upstream


def test_a_websocket_upgrade_keeps_its_connection_open_upstream() -> None:
    head = b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade"
    rewritten = rewrite(head, "127.0.0.3")
    assert b"Connection: Upgrade\r\n" in rewritten
    assert b"X-Forwarded-For: 127.0.0.3\r\n" in rewritten
