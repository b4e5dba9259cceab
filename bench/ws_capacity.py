"""Idle websockets per web process: memory per connection and fan-out latency, per worker class.

    python -m bench.ws_capacity --worker-class gevent --connections 1000
    python -m bench.ws_capacity --worker-class gthread --connections 1000
    python -m bench.ws_capacity --worker-class gevent --connections 1000 --accept-compression

Starts a private Redis and one gunicorn (one worker, the app as in production, SQLite in a
temporary directory; no Celery: sockets need only the web process and Redis). Opens N
websockets from one asyncio client (raw sockets, answering pings; offering
permessage-deflate as browsers do), measures the gunicorn worker's RSS before and after,
then publishes events to the sockets' session through the real publisher script and
measures publish-to-receipt latency over every socket and event. Results: docs/serving.md.
"""

import argparse
import asyncio
import base64
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from datetime import UTC, datetime
from pathlib import Path

import psutil
import redis
import requests
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from orderwire.db.engine import make_engine
from orderwire.db.tables import metadata
from orderwire.local_redis import PrivateRedis, free_port
from orderwire.outbox.envelope import dumps, make_envelope
from orderwire.outbox.publisher import RedisEventPublisher
from orderwire.outbox.store import OutboxEvent

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET = "bench-" + uuid.uuid4().hex


def compressed_app() -> Flask:
    """The production app, but accepting permessage-deflate (to measure what it costs)."""
    from web import create_app

    app = create_app()
    app.config["WEBSOCKET_COMPRESSION"] = True
    return app


def session_cookie(session_id: str) -> str:
    app = Flask("bench")
    app.secret_key = SECRET
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None  # None only without a secret key, set above
    return "session=" + serializer.dumps({"sid": session_id})


class Client(asyncio.Protocol):
    """One raw websocket: answers pings, and notes when each event's bytes arrived (taken
    as they come off the socket, before parsing, so the client's own work adds little)."""

    def __init__(self, port: int, cookie: str, offer_deflate: bool) -> None:
        self.port, self.cookie, self.offer_deflate = port, cookie, offer_deflate
        self.received: dict[str, float] = {}
        self.inflate: zlib._Decompress | None = None
        self.buffer = b""
        self.upgraded = False
        self.hello: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_connection(lambda: self, "127.0.0.1", self.port)
        key = base64.b64encode(os.urandom(16)).decode()
        offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        self.transport.write(
            (
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://127.0.0.1:{self.port}\r\nCookie: {self.cookie}\r\n"
                + (offer if self.offer_deflate else "") + "\r\n"
            ).encode()
        )
        await self.hello

    def data_received(self, data: bytes) -> None:
        arrived = time.time()
        self.buffer += data
        if not self.upgraded:
            if b"\r\n\r\n" not in self.buffer:
                return
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            if not head.startswith(b"HTTP/1.1 101"):
                self.hello.set_exception(RuntimeError(head.decode(errors="replace")))
                return
            if b"permessage-deflate" in head.lower():
                self.inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            self.upgraded = True
        while (frame := self.next_frame()) is not None:
            self.handle(*frame, arrived)

    def next_frame(self) -> tuple[int, bool, bytes] | None:
        if len(self.buffer) < 2:
            return None
        first, second = self.buffer[0], self.buffer[1]
        length, offset = second & 0x7F, 2
        if length == 126:
            if len(self.buffer) < 4:
                return None
            (length,), offset = struct.unpack("!H", self.buffer[2:4]), 4
        elif length == 127:
            if len(self.buffer) < 10:
                return None
            (length,), offset = struct.unpack("!Q", self.buffer[2:10]), 10
        if len(self.buffer) < offset + length:
            return None
        payload = self.buffer[offset : offset + length]
        self.buffer = self.buffer[offset + length :]
        return first & 0x0F, bool(first & 0x40), payload

    def handle(self, opcode: int, compressed: bool, payload: bytes, arrived: float) -> None:
        if opcode == 0x9:  # ping: answer with a masked pong
            mask = os.urandom(4)
            masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)
        elif opcode == 0x1:
            if compressed and self.inflate is not None:
                payload = self.inflate.decompress(payload + b"\x00\x00\xff\xff")
            frame = json.loads(payload)
            if frame["kind"] == "hello" and not self.hello.done():
                self.hello.set_result(None)
            elif frame["kind"] == "event":
                self.received[frame["event"]["id"]] = arrived


def rss(process: psutil.Process) -> int:
    return process.memory_info().rss


def event(session_id: str) -> OutboxEvent:
    event_id = str(uuid.uuid4())
    envelope = make_envelope(
        event_id=event_id, event_type="NotificationCreated", occurred_at=datetime.now(UTC),
        request_id=None, aggregate_id=event_id, aggregate_version=1,
        data={"notification_id": event_id, "text": "Your order is on its way."},
    )
    return OutboxEvent(event_id, "NotificationCreated", event_id, (session_id,), dumps(envelope))


async def measure(args: argparse.Namespace, port: int, worker: psutil.Process, redis_url: str):
    session_id = "bench-" + uuid.uuid4().hex
    cookie = session_cookie(session_id)
    offer = not args.no_offer
    warm = Client(port, cookie, offer)
    await warm.open()  # the hub's thread and Redis connections now exist
    await asyncio.sleep(1)
    before, threads_before = rss(worker), worker.num_threads()
    clients = [Client(port, cookie, offer) for _ in range(args.connections)]
    started = time.monotonic()
    for start in range(0, len(clients), 50):
        await asyncio.gather(*(client.open() for client in clients[start:start + 50]))
    connect_seconds = time.monotonic() - started
    await asyncio.sleep(args.settle)
    after = rss(worker)

    publisher = RedisEventPublisher(redis.Redis.from_url(redis_url))
    latencies: list[float] = []
    for _ in range(args.events):
        note = event(session_id)
        sent = time.time()
        publisher.publish([note])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(
            note.event_id in c.received for c in clients
        ):
            await asyncio.sleep(0.01)
        latencies.extend(c.received[note.event_id] - sent for c in clients
                         if note.event_id in c.received)
        await asyncio.sleep(args.interval)
    delivered = len(latencies)
    latencies.sort()
    result = {
        "worker_class": args.worker_class,
        "connections": args.connections,
        "compression": "accepted" if args.accept_compression else "declined",
        "clients_offer_deflate": offer,
        "connect_seconds": round(connect_seconds, 2),
        "rss_before_mib": round(before / 2**20, 1),
        "rss_after_mib": round(after / 2**20, 1),
        "rss_per_connection_kib": round((after - before) / args.connections / 1024, 1),
        "threads_before": threads_before,
        "threads_after": worker.num_threads(),
        "rss_after_fanout_mib": round(rss(worker) / 2**20, 1),
        "events": args.events,
        "frames_expected": args.events * args.connections,
        "frames_delivered": delivered,
        "fanout_ms_p50": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "fanout_ms_p99": round(latencies[int(0.99 * (delivered - 1))] * 1000, 1)
        if latencies else None,
        "fanout_ms_max": round(latencies[-1] * 1000, 1) if latencies else None,
        "cpu_seconds_worker": round(sum(worker.cpu_times()[:2]), 1),
    }
    for client in [warm, *clients]:
        client.transport.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker-class", choices=["gevent", "gthread"], default="gevent")
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between events")
    parser.add_argument("--settle", type=float, default=3.0, help="idle seconds before RSS")
    parser.add_argument("--accept-compression", action="store_true",
                        help="let the server accept permessage-deflate (production declines)")
    parser.add_argument("--no-offer", action="store_true",
                        help="clients do not offer permessage-deflate")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ws-capacity-") as workdir:
        private_redis = PrivateRedis(Path(workdir) / "redis")
        private_redis.start()
        database_url = f"sqlite:///{workdir}/orderwire.db"
        engine = make_engine(database_url)
        metadata.create_all(engine)
        engine.dispose()
        port = free_port()
        env = {
            **os.environ, "REDIS_URL": private_redis.url, "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET, "PORT": str(port), "ORDERWIRE_ENV": "test",
            "LOG_LEVEL": "WARNING", "ORDERWIRE_RATE_LIMIT": "off", "PYTHONPATH": str(ROOT),
        }
        app = "web:create_app()"
        if args.accept_compression:
            app = "bench.ws_capacity:compressed_app()"
        argv = [str(BIN / "gunicorn"), "--config", "python:orderwire.gunicorn_conf",
                "--worker-class", args.worker_class, "--workers", "1",
                "--worker-connections", str(args.connections + 100)]
        if args.worker_class == "gthread":
            argv += ["--threads", str(args.connections + 50)]
        gunicorn = subprocess.Popen([*argv, app], cwd=ROOT, env=env, start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                        break
                except requests.RequestException:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            [worker] = psutil.Process(gunicorn.pid).children()
            result = asyncio.run(measure(args, port, worker, private_redis.url))
            print(json.dumps(result, indent=2))
        finally:
            gunicorn.terminate()
            try:
                gunicorn.wait(20)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
            private_redis.stop()


if __name__ == "__main__":
    main()
