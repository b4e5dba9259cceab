"""`GET /ws`: a session's events, live, resumable with `?after=<event id>`.

The order of operations is what makes resume gap-free and duplicate-free:
1. register with the hub (from now on every new event lands in our queue);
2. read the session's history after the resume point and send it;
3. drain the queue, dropping what the history already covered (by stream position).
An event published between 1 and 2 is in both; one published before 1 is in the
history; one published after 2 is in the queue. None is lost, none sent twice.

This loop is the only writer to its socket, and every send has a deadline, so a
reader that stopped reading cannot hold a thread forever.
"""

import json
import logging
import threading
from typing import Any

from flask import Blueprint, abort, current_app, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from orderwire.logs import request_id_var
from web.live.connection import LiveConnection
from web.live.history import SessionHistory
from web.live.hub import LiveHub
from web.live.positions import is_after
from web.sessions import existing_session_id

log = logging.getLogger("orderwire.live")

sock = Sock()
bp = Blueprint("live", __name__)

CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_TOO_SLOW = 4008
SEND_DEADLINE_SECONDS = 10.0


def allowed_origin(origin: str | None) -> bool:
    """Same origin as the page, or one listed in ALLOWED_ORIGINS. No Origin (a non-browser
    client) is allowed: browsers always send one, and a cookie-less script gains nothing."""
    if origin is None:
        return True
    own = request.host_url.rstrip("/")
    return origin.rstrip("/") in (own, *current_app.config["ALLOWED_ORIGINS"])


@bp.before_request
def _check_origin_and_session() -> None:
    # Runs before flask-sock accepts the upgrade, so a refusal is a plain HTTP answer.
    if request.endpoint == "live.stream":
        if not allowed_origin(request.headers.get("Origin")):
            abort(403)
        if existing_session_id() is None:
            abort(401)


class _SerialisedSocket:
    """simple-websocket's ping thread and our loop both write; frames must not interleave."""

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
    def __init__(self, ws: Any, hub: LiveHub, history: SessionHistory, session_id: str) -> None:
        self.ws = ws
        self.hub = hub
        self.history = history
        self.session_id = session_id
        self.position: str | None = None  # stream position of the last event sent

    def send(self, frame: dict[str, Any] | str) -> None:
        self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    def run(self, after: str | None, heartbeat: float) -> None:
        connection = self.hub.register(self.session_id)
        if connection is None:
            self.ws.close(CLOSE_TRY_AGAIN_LATER, "live events are unavailable")
            return
        try:
            newest = self.history.newest(self.session_id)
            self.send({"kind": "hello", "last_id": newest[1] if newest else None})
            if after is None:
                self.position = newest[0] if newest else None
            else:
                self._resume(after, newest)
            self._pump(connection, heartbeat)
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
                self.send('{"kind":"event","event":' + envelope + "}")
                self.position = position

    def _catch_up(self) -> None:
        if self.position is None:
            newest = self.history.newest(self.session_id)
            self.position = newest[0] if newest else None
            return
        missed = self.history.after(self.session_id, self.position)
        if missed is None:
            self.send({"kind": "resync", "reason": "events were missed and are no longer kept"})
            newest = self.history.newest(self.session_id)
            self.position = newest[0] if newest else None
        else:
            self._send_missed(missed)

    def _pump(self, connection: LiveConnection, heartbeat: float) -> None:
        while self.ws.connected:
            frames = connection.wait(timeout=heartbeat)
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
            if not frames:
                if self.ws.connected:
                    self.send({"kind": "heartbeat"})
                continue
            for position, frame in frames:
                if is_after(position, self.position):
                    self.send(frame)
                    self.position = position


@sock.route("/ws", bp=bp)
def stream(ws: Any) -> None:
    ws.sock = _SerialisedSocket(ws.sock)
    ws.sock.settimeout(SEND_DEADLINE_SECONDS)
    services = current_app.extensions["orderwire"]
    hub: LiveHub = current_app.extensions["live_hub"]
    session_id = existing_session_id()
    assert session_id is not None
    token = request_id_var.set(None)
    try:
        Stream(ws, hub, SessionHistory(services.redis), session_id).run(
            request.args.get("after") or None,
            current_app.config["HEARTBEAT_SECONDS"],
        )
    except (ConnectionClosed, OSError):
        pass
    finally:
        request_id_var.reset(token)
