"""A small TLS-terminating reverse proxy for tests, like nginx at the edge of a deployment.

It takes TLS on its own port (a certificate from the test's own CA, made with trustme),
connects to the upstream from `source_address` (a loopback address of its own, so the
app can tell the proxy from a client that reaches gunicorn directly), and adds what an
edge proxy adds: X-Forwarded-For (appended), X-Forwarded-Proto https and
X-Forwarded-Host. One request per connection (it asks for `Connection: close`), except
websocket upgrades, which it pipes both ways until either side closes.
"""

import contextlib
import socket
import ssl
import threading
from pathlib import Path

import trustme

from orderwire.local_redis import free_port

HOP_BY_HOP = {b"connection", b"keep-alive", b"x-forwarded-proto", b"x-forwarded-host"}


class TlsProxy:
    def __init__(
        self, upstream: tuple[str, int], *, source_address: str, directory: Path
    ) -> None:
        self.upstream = upstream
        self.source_address = source_address
        self.port = free_port()
        self.ca = trustme.CA()
        self.ca_file = Path(directory) / "proxy-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(self.context)
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def __enter__(self) -> "TlsProxy":
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        threading.Thread(target=self._accept_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()

    def _accept_forever(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                raw, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw, peer[0]), daemon=True).start()

    def _serve(self, raw: socket.socket, client_ip: str) -> None:
        try:
            raw.settimeout(10)
            client = self.context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        with contextlib.closing(client):
            head = self._read_head(client)
            if head is None:
                return
            upstream = socket.create_connection(
                self.upstream, timeout=10, source_address=(self.source_address, 0)
            )
            with contextlib.closing(upstream):
                head, rest = head
                upstream.sendall(self._rewrite(head, client_ip) + rest)
                pump = threading.Thread(target=_pipe, args=(client, upstream), daemon=True)
                pump.start()
                _pipe(upstream, client)
                pump.join(timeout=1)

    @staticmethod
    def _read_head(client: ssl.SSLSocket) -> tuple[bytes, bytes] | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        return head, rest

    @staticmethod
    def _rewrite(head: bytes, client_ip: str) -> bytes:
        request_line, *lines = head.split(b"\r\n")
        headers = [line.split(b":", 1) for line in lines if b":" in line]
        names = {name.strip().lower(): value.strip() for name, value in headers}
        upgrade = names.get(b"upgrade", b"").lower() == b"websocket"
        forwarded_for = names.get(b"x-forwarded-for")
        kept = [
            (name, value)
            for name, value in headers
            if name.strip().lower() not in HOP_BY_HOP | {b"x-forwarded-for"}
        ]
        kept += [
            (b"X-Forwarded-For", (forwarded_for + b", " if forwarded_for else b"")
             + client_ip.encode()),
            (b"X-Forwarded-Proto", b"https"),
            (b"X-Forwarded-Host", names.get(b"host", b"")),
            (b"Connection", b"Upgrade" if upgrade else b"close"),
        ]
        lines = [request_line] + [name + b": " + value.strip() for name, value in kept]
        return b"\r\n".join(lines) + b"\r\n\r\n"


def _pipe(source: socket.socket, target: socket.socket) -> None:
    source.settimeout(None)
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)
