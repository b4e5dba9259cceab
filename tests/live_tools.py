"""Tools for the live-stream tests: a session's id, synthetic events, a raw websocket.

Synthetic events go through the real publisher script (the same XADD + PUBLISH the
relay runs), so the web process cannot tell them from real ones; they make a test
deterministic and cheap where real commands would only add waiting.
"""

import base64
import contextlib
import json
import os
import socket
import struct
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
import requests
import websocket
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from orderwire.config import DEVELOPMENT_SECRET_KEY
from orderwire.outbox.envelope import dumps, make_envelope
from orderwire.outbox.publisher import RedisEventPublisher
from orderwire.outbox.store import OutboxEvent


def session_id_of(browser: requests.Session, secret_key: str = DEVELOPMENT_SECRET_KEY) -> str:
    """The session id inside the signed cookie that GET / set."""
    app = Flask("read-cookie")
    app.secret_key = secret_key
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    return serializer.loads(browser.cookies["session"])["sid"]


def publish_notes(
    redis_url: str, session_ids: list[str], count: int, *, padding: int = 0
) -> list[str]:
    """Publish `count` NotificationCreated events for these sessions; their ids, in order."""
    client = redis.Redis.from_url(redis_url)
    try:
        publisher = RedisEventPublisher(client)
        batch = [_note(tuple(session_ids), index, padding) for index in range(count)]
        publisher.publish(batch)
        return [event.event_id for event in batch]
    finally:
        client.close()


def _note(audience: tuple[str, ...], index: int, padding: int) -> OutboxEvent:
    event_id = str(uuid.uuid4())
    envelope = make_envelope(
        event_id=event_id,
        event_type="NotificationCreated",
        occurred_at=datetime.now(UTC),
        request_id=None,
        aggregate_id=event_id,
        aggregate_version=1,
        data={"notification_id": event_id, "text": f"note {index} " + "x" * padding},
    )
    return OutboxEvent(event_id, "NotificationCreated", event_id, audience, dumps(envelope))


class RawWebSocket:
    """A websocket client that does only what a test tells it: no automatic pong, no
    reading unless asked. For a peer that stopped reading or stopped answering."""

    def __init__(self, port: int, cookie: str, *, origin: str, receive_buffer: int = 4096):
        self.sock = socket.socket()
        # A small receive window makes "stopped reading" show on the server quickly.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(15)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                "GET /ws HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: {origin}\r\nCookie: {cookie}\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the TCP connection without a close frame")
        return data

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self.buffer += self._recv()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def next_frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame; servers never mask, never fragment ours."""
        first, second = self._take(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._take(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._take(8))
        return first & 0x0F, self._take(length)

    def read_until_close(self) -> tuple[list[dict], list[int], int]:
        """Every JSON frame, the opcodes of control frames seen, and the close code."""
        frames: list[dict] = []
        controls: list[int] = []
        while True:
            opcode, payload = self.next_frame()
            if opcode == 0x8:
                return frames, controls, struct.unpack("!H", payload[:2])[0]
            if opcode == 0x1:
                frames.append(json.loads(payload))
            else:
                controls.append(opcode)

    def close(self) -> None:
        self.sock.close()


def read_until(client: Any, done: Callable[[list[dict[str, Any]]], bool], *,
               timeout: float = 30, what: str = "events") -> None:
    """Read frames from a LiveClient until `done(its events)`; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not done(client.events):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        with contextlib.suppress(websocket.WebSocketTimeoutException):
            client.next_frame(timeout=remaining)


def placed_orders(events: list[dict[str, Any]]) -> set[str]:
    return {event["aggregate_id"] for event in events if event["type"] == "OrderPlaced"}
