"""`GET /ws`: a session's events, live, resumable with `?after=<event id>`.

The route: the handshake's checks (web/live/handshake.py) and the errors that end a
socket. What it streams, and in which order, is web/live/session_stream.py.
"""

import contextlib
import logging
import socket
from typing import Any

import redis
from flask import Blueprint, request
from simple_websocket import ConnectionClosed

from orderwire.logs import request_id_var
from web.extensions import live_hub, services, sock
from web.live.handshake import check_handshake
from web.live.history import SessionHistory
from web.live.session_stream import CLOSE_TRY_AGAIN_LATER, Stream, prepare_socket
from web.sessions import existing_session_id

log = logging.getLogger("orderwire.live")

bp = Blueprint("live", __name__)


@bp.before_request
def _check_handshake() -> None:
    if request.endpoint == "live.stream":
        check_handshake()


@sock.route("/ws", bp=bp)
def stream(ws: Any) -> None:
    prepare_socket(ws)
    session_id = existing_session_id()
    assert session_id is not None  # the handshake check refused sessionless requests
    token = request_id_var.set(None)
    try:
        Stream(
            ws, live_hub.get(), SessionHistory(services.get().redis), session_id,
            services.settings().heartbeat_seconds,
        ).run(request.args.get("after") or None)
    except ConnectionClosed:
        pass
    except redis.RedisError:
        # The history is out of reach: the page reconnects later and resumes where it was.
        log.warning("live history unavailable; closing the websocket", exc_info=True)
        with contextlib.suppress(ConnectionClosed, OSError):
            ws.close(CLOSE_TRY_AGAIN_LATER, "live events are unavailable")
    except OSError:
        # A send missed its deadline or the peer vanished: the byte stream may end mid-frame,
        # so no close frame can follow. Drop the connection; the reader thread ends with it.
        ws.connected = False
        with contextlib.suppress(OSError):
            ws.sock.shutdown(socket.SHUT_RDWR)
    finally:
        request_id_var.reset(token)
