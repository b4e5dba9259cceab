"""The fan-out benchmark: N idle websocket sessions on one web process, then events to them.

1. Start the system with one gunicorn (gevent) worker and note that worker's RSS.
2. Client processes (asyncio + aiohttp, N/P sessions each) open N sessions: a cookie
   from GET /api/orders, then /ws, then the `hello` frame. RSS again: the difference
   over N is the cost of one held connection (session, websocket, greenlets, queue).
3. Everyone stays idle for `hold_seconds` (longer than the 15 s heartbeat): how many
   connections are still open afterwards.
4. Events go out through the real publisher (the Lua script workers use after a
   commit), each stamped with its send time: a *broadcast* (one event to all N
   sessions, the next only once everyone has it: how long one event takes to reach
   everybody) and a *per-session stream* (each event to one session, round robin, at
   `stream_rate` per second, 10 s: orderwire's real traffic shape, where an event goes
   to its order's owner). Latency is publish -> frame read by the client.
"""

import asyncio
import json
import multiprocessing
import tempfile
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from bench.load import new_http_session
from bench.stats import latency_summary
from bench.system import BenchSystem, private_database
from orderwire.outbox.envelope import dumps
from orderwire.outbox.publisher import RedisEventPublisher
from orderwire.outbox.store import OutboxEvent

SECRET_KEY = "bench-only-secret-key-" + "x" * 16


@dataclass
class FanoutOptions:
    clients: int = 5000
    client_processes: int = 4
    events: int = 5
    stream_rate: float = 200.0
    hold_seconds: float = 16.0


def _session_id(cookie_value: str) -> str:
    """The session id inside Flask's signed cookie (the bench knows the secret key)."""
    app = Flask("bench")
    app.secret_key = SECRET_KEY
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    return serializer.loads(cookie_value)["sid"]


# --- client processes ------------------------------------------------------------------


async def _client_main(base_url: str, count: int, pipe: Connection) -> None:
    arrivals: dict[str, list[float]] = {}  # event id -> latencies of its deliveries here
    closed = 0

    async def hold(ws: aiohttp.ClientWebSocketResponse) -> None:
        nonlocal closed
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT or '"event"' not in message.data:
                continue
            now = time.time()
            event = json.loads(message.data)["event"]
            arrivals.setdefault(event["id"], []).append(now - event["data"]["sent_at"])
        closed += 1

    async with new_http_session() as http:
        gate = asyncio.Semaphore(25)
        sockets: list[aiohttp.ClientWebSocketResponse] = []
        sessions: list[str] = []

        async def connect() -> None:
            async with gate:
                async with http.get(f"{base_url}/api/orders") as answer:
                    await answer.read()
                    cookie = answer.cookies["session"].value
                ws = await http.ws_connect(base_url.replace("http", "ws") + "/ws",
                                           headers={"Cookie": f"session={cookie}"},
                                           autoping=True, max_msg_size=0)
                hello = json.loads((await ws.receive()).data)
                assert hello["kind"] == "hello", hello
                sockets.append(ws)
                sessions.append(_session_id(cookie))

        await asyncio.gather(*(connect() for _ in range(count)))
        readers = [asyncio.create_task(hold(ws)) for ws in sockets]
        pipe.send(("connected", sessions))
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, pipe.recv)
            if command == "status":
                pipe.send(("status", len(sockets) - closed))
            elif command == "collect":
                pipe.send(("arrivals", arrivals))
                arrivals = {}
            elif command == "stop":
                break
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def _client_process(base_url: str, count: int, pipe: Connection) -> None:
    asyncio.run(_client_main(base_url, count, pipe))


# --- the driver ------------------------------------------------------------------------


def _event(audience: list[str]) -> OutboxEvent:
    event_id = str(uuid.uuid4())
    envelope = {
        "id": event_id, "type": "BenchmarkPing", "version": 1,
        "occurred_at": "2026-01-01T00:00:00.000Z", "request_id": None,
        "aggregate_id": event_id, "aggregate_version": 1,
        "data": {"sent_at": time.time()},
    }
    return OutboxEvent(event_id, "BenchmarkPing", event_id, tuple(audience), dumps(envelope))


class Fanout:
    def __init__(self, system: BenchSystem, options: FanoutOptions) -> None:
        self.system = system
        self.options = options
        self.pipes: list[Connection] = []
        self.processes: list[Any] = []
        self.sessions: list[str] = []

    def _ask(self, command: str) -> list[Any]:
        for pipe in self.pipes:
            pipe.send(command)
        return [pipe.recv()[1] for pipe in self.pipes]

    def connect(self) -> None:
        context = multiprocessing.get_context("spawn")
        share, extra = divmod(self.options.clients, self.options.client_processes)
        for index in range(self.options.client_processes):
            ours, theirs = context.Pipe()
            count = share + (1 if index < extra else 0)
            process = context.Process(target=_client_process,
                                      args=(self.system.base_url, count, theirs), daemon=True)
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)
        for pipe in self.pipes:
            kind, sessions = pipe.recv()
            assert kind == "connected"
            self.sessions.extend(sessions)

    def open_connections(self) -> int:
        return sum(self._ask("status"))

    def _collect_until(self, expected: dict[str, int], arrived: dict[str, list[float]],
                       timeout: float) -> None:
        """Gather deliveries until every expected one is in, or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while True:
            for part in self._ask("collect"):
                for event_id, values in part.items():
                    arrived.setdefault(event_id, []).extend(values)
            done = all(len(arrived.get(e, ())) >= n for e, n in expected.items())
            if done or time.monotonic() > deadline:
                return
            time.sleep(0.1)

    def measure(self, name: str, batches: list[list[str]], interval: float,
                *, one_at_a_time: bool) -> dict[str, Any]:
        """Publish one event per audience in `batches`, `interval` apart; with
        `one_at_a_time`, each only after the previous one reached everyone."""
        publisher = RedisEventPublisher(self.system.redis_client())
        expected: dict[str, int] = {}
        arrived: dict[str, list[float]] = {}
        started = time.perf_counter()
        for index, audience in enumerate(batches):
            delay = started + index * interval - time.perf_counter()
            if delay > 0 and not one_at_a_time:
                time.sleep(delay)
            event = _event(audience)
            expected[event.event_id] = len(audience)
            publisher.publish([event])
            if one_at_a_time:
                self._collect_until({event.event_id: len(audience)}, arrived, timeout=60)
        self._collect_until(expected, arrived, timeout=60)
        latencies = [value for event_id in expected for value in arrived.get(event_id, ())]
        missing = sum(max(0, n - len(arrived.get(e, ()))) for e, n in expected.items())
        return {"name": name, "events": len(batches), "deliveries": len(latencies),
                "missing": missing, "latency": latency_summary(latencies)}

    def stop(self) -> None:
        for pipe in self.pipes:
            pipe.send("stop")
        for process in self.processes:
            process.join(30)


def run_fanout_benchmark(options: FanoutOptions, env: dict[str, str], *,
                         web_log_level: str = "INFO") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="orderwire-fanout-") as workdir, \
            private_database(Path(workdir)) as database_url:
        system = BenchSystem(
            Path(workdir), database_url=database_url,
            env={**env, "SECRET_KEY": SECRET_KEY, "WEB_CONCURRENCY": "1",
                 "ORDERWIRE_WEBSOCKET_QUEUE": "1000"},
            web_log_level=web_log_level,
        )
        with system:
            return _run(system, options)


def _rss_mib(system: BenchSystem) -> float:
    return system.web_worker_process().memory_info().rss / 2**20


def _run(system: BenchSystem, options: FanoutOptions) -> dict[str, Any]:
    fanout = Fanout(system, options)
    # Warm the web worker (imports, the hub's subscription, pools) before the first reading.
    warm = asyncio.run(_warm(system.base_url))
    rss_before = _rss_mib(system)
    connect_started = time.perf_counter()
    fanout.connect()
    connect_seconds = time.perf_counter() - connect_started
    time.sleep(2.0)
    rss_after = _rss_mib(system)
    held = fanout.open_connections()
    time.sleep(options.hold_seconds)
    still_open = fanout.open_connections()
    sessions = fanout.sessions
    try:
        broadcast = fanout.measure("broadcast to all", [sessions] * options.events, 0.0,
                                   one_at_a_time=True)
        stream_count = max(1, int(options.stream_rate * 10))
        stream = fanout.measure(
            f"per-session stream {options.stream_rate:g}/s",
            [[sessions[index % len(sessions)]] for index in range(stream_count)],
            1 / options.stream_rate, one_at_a_time=False,
        )
    finally:
        fanout.stop()
    return {
        "mode": "fanout",
        "options": vars(options),
        "web_log_level": system.web_log_level,
        "clients": options.clients,
        "warm_up_requests": warm,
        "connect_seconds": round(connect_seconds, 1),
        "connections_held": held,
        "hold_seconds": options.hold_seconds,
        "still_open": still_open,
        "rss_before_mib": round(rss_before, 1),
        "rss_after_mib": round(rss_after, 1),
        "rss_per_connection_kib": round((rss_after - rss_before) * 1024 / max(held, 1), 1),
        "patterns": [broadcast, stream],
    }


async def _warm(base_url: str) -> int:
    async with new_http_session() as http:
        for _ in range(20):
            async with http.get(f"{base_url}/api/orders") as answer:
                await answer.read()
                cookie = answer.cookies["session"].value
            ws = await http.ws_connect(base_url.replace("http", "ws") + "/ws",
                                       headers={"Cookie": f"session={cookie}"})
            await ws.receive()
            await ws.close()
    return 20
