"""One loopback TCP proxy for tests, benchmarks and chaos runs, with the faults they need
as options. It forwards 127.0.0.1:`port` to `upstream`, each connection piped both ways.

- `source_address`: it connects upstream from that loopback address of its own, so the
  app can tell the proxy from a client that reaches the app directly.
- `edge=TlsEdge(...)`: it takes TLS and adds the headers an edge proxy adds (tls_edge.py).
- `freeze()`: what a laptop lid or a Wi-Fi handover does to live connections: the sockets
  stay open on both ends, but nothing gets through any more. Connections made after it
  pass as usual, so a client that gives up on a silent one can reconnect.
- `outage(seconds)`: what a server that dies and comes back does: every open connection
  reset, new ones refused for `seconds`, then accepted again on the same port.

    with Proxy(("127.0.0.1", web_port)) as proxy:
        requests.get(proxy.base_url)
"""

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from types import TracebackType

from tools.harness.tls_edge import TlsEdge

CHUNK = 65536


class Proxy:
    def __init__(
        self, upstream: tuple[str, int], *, source_address: str | None = None,
        edge: TlsEdge | None = None,
    ) -> None:
        self.upstream = upstream
        self.source_address = source_address
        self.edge = edge
        self.port = 0  # the first listen picks a free port; an outage listens on it again
        self._listener: socket.socket | None = None
        self._links: set[_Link] = set()
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"{'https' if self.edge else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> "Proxy":
        self._listen()
        return self

    def stop(self) -> None:
        self._stop_listening()

    def __enter__(self) -> "Proxy":
        return self.start()

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()

    def freeze(self) -> int:
        """Silence every connection open now; return how many were frozen."""
        with self._lock:
            links = list(self._links)
        for link in links:
            link.frozen.set()
        return len(links)

    def outage(self, seconds: float) -> int:
        """Reset every connection, refuse new ones for `seconds`, then accept again;
        return how many connections were reset."""
        dropped = self._stop_listening()
        time.sleep(seconds)  # the outage itself, not a wait for a result
        self._listen()
        return dropped

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True,
                         name=f"proxy-{self.port}").start()

    def _stop_listening(self) -> int:
        if self._listener is not None:
            with contextlib.suppress(OSError):  # shutdown wakes accept(); close() would not
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close(reset=True)
        return len(links)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, peer = listener.accept()
            except OSError:
                return  # closed by outage() or stop()
            threading.Thread(target=self._connect, args=(client, peer[0]), daemon=True).start()

    def _connect(self, client: socket.socket, client_ip: str) -> None:
        first = b""
        try:
            if self.edge is not None:
                client, first = self.edge.receive(client, client_ip)
            source = (self.source_address, 0) if self.source_address else None
            server = socket.create_connection(self.upstream, timeout=5, source_address=source)
        except OSError:
            client.close()
            return
        link = _Link(client, server, self._forget)
        with self._lock:
            self._links.add(link)
        try:
            server.sendall(first)
        except OSError:
            link.close(reset=True)
            return
        link.start()

    def _forget(self, link: "_Link") -> None:
        with self._lock:
            self._links.discard(link)


class _Link:
    """A client's connection and its upstream one, piped both ways. Each direction's end
    passes on as a half-close; when both have ended, both sockets close."""

    def __init__(
        self, client: socket.socket, server: socket.socket, on_closed: Callable[["_Link"], None]
    ) -> None:
        self.ends = (client, server)
        self.frozen = threading.Event()
        self.closed = threading.Event()
        self._on_closed = on_closed
        self._lock = threading.Lock()
        self._directions_open = 2

    def start(self) -> None:
        client, server = self.ends
        for source, sink in ((client, server), (server, client)):
            source.settimeout(None)
            threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while (data := source.recv(CHUNK)) and not self.frozen.is_set():
                sink.sendall(data)
            if self.frozen.is_set():
                self.closed.wait()  # hold everything, answer nothing, close nothing
                return
            if self.closed.is_set():
                # Woken by close(): passing the end on as a half-close would send a FIN
                # ahead of a reset close() is about to send.
                return
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            self.close()
            return
        with self._lock:
            self._directions_open -= 1
            finished = self._directions_open == 0
        if finished:
            self.close()

    def close(self, *, reset: bool = False) -> None:
        """Close both ends; `reset` sends a reset, as when a server dies, not a polite FIN."""
        with self._lock:
            if self.closed.is_set():
                return
            self.closed.set()
        for end in self.ends:
            # SHUT_RD first: close() alone does not wake the other thread blocked in recv()
            # on this socket, which would keep the connection open.
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RD)
            if reset:
                with contextlib.suppress(OSError):
                    end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                end.close()
        self._on_closed(self)
