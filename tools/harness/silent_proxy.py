"""A loopback TCP proxy a test controls, to make a connection go silent without closing.

`freeze()` is what a laptop lid or a Wi-Fi handover does to a live connection: the
sockets stay open on both ends, but nothing gets through any more. Connections made
after it pass as usual, so a client that gives up on the silent one can reconnect.
"""

import selectors
import socket
import threading
from types import TracebackType

from orderwire.local_redis import free_port


class _Pipe:
    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client, self.server = client, server
        self.frozen = threading.Event()
        self.closed = threading.Event()

    def pump(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.client, selectors.EVENT_READ, self.server)
        selector.register(self.server, selectors.EVENT_READ, self.client)
        try:
            while not self.closed.is_set():
                if self.frozen.is_set():
                    # Hold everything, answer nothing, close nothing.
                    self.closed.wait(0.2)
                    continue
                for key, _ in selector.select(timeout=0.2):
                    if self.frozen.is_set():
                        break
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            self.close()

    def close(self) -> None:
        self.closed.set()
        for end in (self.client, self.server):
            end.close()


class SilentProxy:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`target_port`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.pipes: list[_Pipe] = []
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            pipe = _Pipe(client, server)
            with self.lock:
                self.pipes.append(pipe)
            threading.Thread(target=pipe.pump, daemon=True).start()

    def freeze(self) -> int:
        """Silence every connection open now; return how many were frozen."""
        with self.lock:
            open_pipes = [pipe for pipe in self.pipes if not pipe.closed.is_set()]
        for pipe in open_pipes:
            pipe.frozen.set()
        return len(open_pipes)

    def __enter__(self) -> "SilentProxy":
        self.thread.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stopped.set()
        self.listener.close()
        self.thread.join(5)
        with self.lock:
            for pipe in self.pipes:
                pipe.close()
