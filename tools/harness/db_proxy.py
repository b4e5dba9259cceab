"""A loopback TCP proxy in front of PostgreSQL, so a chaos run can take the database away
from orderwire's processes (and only from them) the way an outage does.

The PostgreSQL server is shared (other runs, other users), so it cannot be stopped. The
processes under test reach it through this proxy instead; `outage(seconds)` resets every
open connection and stops listening, so new connections are refused, then listens again
on the same port. To the processes that is exactly a server that went away and came back.
"""

import contextlib
import socket
import struct
import threading
import time


class DatabaseProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        self._accepting = threading.Event()

    def start(self) -> "DatabaseProxy":
        self._listen()
        return self

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accepting.set()
        threading.Thread(target=self._accept, args=(listener,), daemon=True,
                         name="chaos-db-proxy").start()

    def _accept(self, listener: socket.socket) -> None:
        while self._accepting.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by outage() or stop()
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            pair = (client, server)
            with self._lock:
                self._pairs.add(pair)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink, pair),
                                 daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket,
              pair: tuple[socket.socket, socket.socket]) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._close(pair)

    def _close(self, pair: tuple[socket.socket, socket.socket]) -> None:
        with self._lock:
            self._pairs.discard(pair)
        for sock in pair:
            # SHUT_RD first: close() alone does not wake the other thread blocked in recv()
            # on this socket, which would keep the connection open. Then SO_LINGER 0: a
            # reset, as when a server dies, not a polite FIN.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()

    def _stop_listening(self) -> int:
        self._accepting.clear()
        if self._listener is not None:
            with contextlib.suppress(OSError):  # shutdown wakes accept(); close() would not
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            self._close(pair)
        return len(pairs)

    def outage(self, seconds: float) -> str:
        """Reset every connection, refuse new ones for `seconds`, then accept again."""
        dropped = self._stop_listening()
        time.sleep(seconds)
        self._listen()
        return (f"PostgreSQL unreachable {seconds:g} s "
                f"({dropped} connections reset, new ones refused)")

    def stop(self) -> None:
        self._stop_listening()
