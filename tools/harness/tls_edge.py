"""What a TLS-terminating edge proxy (nginx at the edge of a deployment) does to each
connection, as an option of tools/harness/proxy.py.

It takes TLS with a certificate from the test's own CA (made with trustme; clients trust
`ca_file`) and rewrites the request head as an edge proxy does: X-Forwarded-For
(appended), X-Forwarded-Proto https and X-Forwarded-Host. One request per connection (it
asks the upstream for `Connection: close`), except websocket upgrades, which stay open.
"""

import socket
import ssl
from pathlib import Path

import trustme

HOP_BY_HOP = {b"connection", b"keep-alive", b"x-forwarded-proto", b"x-forwarded-host"}


class TlsEdge:
    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA()
        self.ca_file = Path(directory) / "proxy-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(self.context)

    def receive(self, raw: socket.socket, client_ip: str) -> tuple[ssl.SSLSocket, bytes]:
        """The TLS connection and the bytes to send upstream first: the rewritten request
        head and whatever of the body came with it. OSError when the client gives up."""
        raw.settimeout(10)
        client = self.context.wrap_socket(raw, server_side=True)
        try:
            head, rest = read_head(client)
        except OSError:
            client.close()
            raise
        return client, rewrite(head, client_ip) + rest


def read_head(client: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            raise ConnectionAbortedError("the client closed before sending a request")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def rewrite(head: bytes, client_ip: str) -> bytes:
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
