"""Load on orderwire as browsers make it: sessions that POST commands and listen on /ws.

Everything runs on one asyncio loop (aiohttp for HTTP and websockets), so a few
hundred commands per second cost the client little CPU; the benchmark records the
client's own CPU so a saturated client would show. Times are `perf_counter()`
readings of this process: a command's latency runs from just before its POST is
sent to the moment its `OrderPlaced` frame is read from the session's websocket.
"""

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

ORDER = {
    "customer_name": "Benchmark Customer",
    "lines": [{"product": "Widget", "quantity": 2, "unit_price": "19.99"}],
}
ORDER_BYTES = json.dumps(ORDER).encode()
EVENT_TIMEOUT = 30.0


@dataclass
class Sample:
    """One command: when it was sent, answered, and when its event arrived (None: never)."""

    key: str
    sent: float
    answered: float | None = None
    delivered: float | None = None
    status: int | None = None
    signalled: float | None = None  # bare Celery only: the task's own signal arrived

    @property
    def signal_latency(self) -> float | None:
        return None if self.signalled is None else self.signalled - self.sent

    @property
    def latency(self) -> float | None:
        return None if self.delivered is None else self.delivered - self.sent

    @property
    def answer_latency(self) -> float | None:
        return None if self.answered is None else self.answered - self.sent


def new_http_session(limit: int = 0) -> aiohttp.ClientSession:
    """One connection pool for every simulated browser; each sends its own cookie."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, force_close=False),
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=60),
    )


class LiveSession:
    """A browser session: its signed cookie, its websocket, and the commands awaiting events."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http = http
        self.base_url = base_url
        self.cookie = ""
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> "LiveSession":
        async with self.http.get(f"{self.base_url}/api/orders") as answer:
            await answer.read()
            self.cookie = f"session={answer.cookies['session'].value}"
        ws_url = self.base_url.replace("http://", "ws://") + "/ws"
        self.ws = await self.http.ws_connect(ws_url, headers={"Cookie": self.cookie},
                                             autoping=True, max_msg_size=0)
        hello = json.loads((await self.ws.receive()).data)
        assert hello["kind"] == "hello", hello
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            arrived = time.perf_counter()
            if message.type != aiohttp.WSMsgType.TEXT or '"OrderPlaced"' not in message.data:
                continue
            event: dict[str, Any] = json.loads(message.data).get("event") or {}
            if event.get("type") == "OrderPlaced":
                request_id = event.get("request_id")
                future = self.waiting.pop(request_id, None) if request_id is not None else None
                if future is not None and not future.done():
                    future.set_result(arrived)

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
        if self.ws is not None:
            await self.ws.close()

    def _headers(self, key: str) -> dict[str, str]:
        return {"Cookie": self.cookie, "Content-Type": "application/json", "Idempotency-Key": key}

    async def place_order(self) -> Sample:
        key = f"bench-{uuid.uuid4()}"
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[key] = future
        sample = Sample(key, time.perf_counter())
        try:
            async with self.http.post(f"{self.base_url}/api/orders", data=ORDER_BYTES,
                                      headers=self._headers(key)) as answer:
                await answer.read()
                sample.answered, sample.status = time.perf_counter(), answer.status
        except aiohttp.ClientError:
            self.waiting.pop(key, None)
            return sample
        if sample.status != 202:
            self.waiting.pop(key, None)
            return sample
        try:
            sample.delivered = await asyncio.wait_for(future, EVENT_TIMEOUT)
        except TimeoutError:
            self.waiting.pop(key, None)
        return sample

    async def replay(self, key: str) -> tuple[float, bool]:
        """POST the same key and body again: (seconds to answer, answered as a replay)."""
        started = time.perf_counter()
        async with self.http.post(f"{self.base_url}/api/orders", data=ORDER_BYTES,
                                  headers=self._headers(key)) as answer:
            body = await answer.json()
            replayed = (answer.status == 202 and answer.headers.get("Idempotent-Replayed") == "true"
                        and body["request_id"] == key)
        return time.perf_counter() - started, replayed


async def open_sessions(http: aiohttp.ClientSession, base_url: str, count: int,
                        parallel: int = 50) -> list[LiveSession]:
    gate = asyncio.Semaphore(parallel)

    async def one() -> LiveSession:
        async with gate:
            return await LiveSession(http, base_url).open()

    return list(await asyncio.gather(*(one() for _ in range(count))))


Action = Callable[[int], Coroutine[Any, Any, Sample]]


async def closed_loop(action: Action, concurrency: int, duration: float) -> list[Sample]:
    """`concurrency` users, each sending its next command once the last one's event arrived."""
    deadline = time.perf_counter() + duration
    samples: list[Sample] = []

    async def user(index: int) -> None:
        while time.perf_counter() < deadline:
            samples.append(await action(index))

    await asyncio.gather(*(user(index) for index in range(concurrency)))
    return samples


async def open_loop(action: Action, rate: float, duration: float) -> list[Sample]:
    """Commands at a fixed rate, whether or not earlier ones are done (arrivals don't wait)."""
    count = int(rate * duration)
    start = time.perf_counter() + 0.05
    tasks: list[asyncio.Task[Sample]] = []
    for index in range(count):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(action(index)))
    return list(await asyncio.gather(*tasks))


def throughput(samples: Sequence[Sample], started: float, ended: float, warmup: float) -> float:
    """Commands completed per second in [started + warmup, ended]: the steady state."""
    window_start = started + warmup
    done = [s for s in samples if s.delivered is not None and window_start <= s.delivered <= ended]
    return len(done) / max(ended - window_start, 1e-9)
