"""One websocket's stream of its session's events, live, resumable with `?after=<event id>`.

The order of operations is what makes resume gap-free and duplicate-free:
1. register with the hub (from now on every new event lands in our queue);
2. read the session's history after the resume point and send it;
3. drain the queue, dropping what the history already covered (by stream position).
An event published between 1 and 2 is in both; one published before 1 is in the
history; one published after 2 is in the queue. None is lost, none sent twice.

This loop is the only writer of event frames to its socket, and every send has a
deadline, so a reader that stopped reading cannot hold a thread forever.
"""

import contextlib
import json
import logging
import socket
import threading
import time
from typing import Any

from web.live.connection import LiveConnection
from web.live.delivery_log import log_delivered
from web.live.history import SessionHistory
from web.live.hub import LiveHub
from web.live.positions import is_after

log = logging.getLogger("orderwire.live")

CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_TOO_SLOW = 4008
# A send that cannot finish in this time means the peer stopped reading: give up on it.
SEND_DEADLINE_SECONDS = 10.0
# The kernel's send buffer would otherwise grow to megabytes and hide a slow reader from
# the bounded queue, which is where slowness is meant to show (and be measured).
SEND_BUFFER_BYTES = 128 * 1024


class _SerialisedSocket:
    """simple-websocket's reader thread (pings, pongs, close replies) and our loop both
    write to the socket; one lock keeps their frames from interleaving."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._lock = threading.Lock()

    def send(self, data: bytes) -> int:
        with self._lock:
            self._raw.sendall(data)
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class Stream:
    def __init__(
        self, ws: Any, hub: LiveHub, history: SessionHistory, session_id: str, heartbeat: float
    ) -> None:
        self.ws = ws
        self.hub = hub
        self.history = history
        self.session_id = session_id
        self.heartbeat = heartbeat
        self.position: str | None = None  # stream position of the last event sent
        self.last_sent = time.monotonic()

    def send(self, frame: dict[str, Any] | str) -> None:
        self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))
        self.last_sent = time.monotonic()

    def run(self, after: str | None) -> None:
        connection = self.hub.register(self.session_id)
        if connection is None:
            self.ws.close(CLOSE_TRY_AGAIN_LATER, "live events are unavailable")
            return
        # simple-websocket sets `ws.event` when the peer sends or closes; sharing the
        # queue's event wakes the loop below at once when the socket closes.
        self.ws.event = connection.wakeup
        try:
            newest = self.history.newest(self.session_id)
            self.send({"kind": "hello", "last_id": newest[1] if newest else None})
            if after is None:
                self.position = newest[0] if newest else None
            else:
                self._resume(after, newest)
            self._pump(connection)
        finally:
            self.hub.unregister(connection)

    def _resume(self, after: str, newest: tuple[str, str] | None) -> None:
        position = self.history.position_of(self.session_id, after)
        missed = self.history.after(self.session_id, position) if position else None
        if missed is None:
            self.send({"kind": "resync", "reason": "the resume point is no longer kept"})
            self.position = newest[0] if newest else None
            return
        self.position = position
        self._send_missed(missed)

    def _send_missed(self, missed: list[tuple[str, str]]) -> None:
        for position, envelope in missed:
            if is_after(position, self.position):
                frame = '{"kind":"event","event":' + envelope + "}"
                self.send(frame)
                log_delivered(frame)
                self.position = position

    def _catch_up(self) -> None:
        """The hub was not subscribed for a while: send what the history holds since."""
        missed = self.history.after(self.session_id, self.position)
        if missed is None:
            self.send({"kind": "resync", "reason": "events were missed and are no longer kept"})
            newest = self.history.newest(self.session_id)
            self.position = newest[0] if newest else None
        else:
            self._send_missed(missed)

    def _pump(self, connection: LiveConnection) -> None:
        while True:
            idle = time.monotonic() - self.last_sent
            frames = connection.wait(timeout=max(0.0, self.heartbeat - idle))
            if not self.ws.connected:
                return
            # Clients have nothing to say on this stream; drop whatever they send.
            self.ws.input_buffer.clear()
            if connection.going_away:
                self.ws.close(CLOSE_GOING_AWAY, "server shutting down")
                return
            if connection.overflowed:
                log.info("closing a slow websocket", extra={"event": "ws.too_slow"})
                self.ws.close(CLOSE_TOO_SLOW, "too slow: resume with ?after=")
                return
            if connection.gap:
                connection.gap = False
                self._catch_up()
            for position, frame in frames:
                if connection.overflowed:
                    break  # the next turn closes; sending the rest only delays that
                if is_after(position, self.position):
                    self.send(frame)
                    log_delivered(frame)
                    self.position = position
            if time.monotonic() - self.last_sent >= self.heartbeat:
                self.send({"kind": "heartbeat"})


def prepare_socket(ws: Any) -> None:
    """Bound every send (a deadline, a small kernel buffer) and serialise writers."""
    raw = ws.sock
    raw.settimeout(SEND_DEADLINE_SECONDS)
    with contextlib.suppress(OSError):  # not a TCP socket (a Unix socket): nothing to bound
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    ws.sock = _SerialisedSocket(raw)
