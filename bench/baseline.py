"""Bare Celery, driven the way the orderwire load is: the same users, rates and clock.

A no-op task is sent with `send_task` (in a thread pool: kombu blocks) and is
complete when the worker's `task-succeeded` event is received here. Those task
events are on in orderwire's Celery too (for Flower), so both sides pay for them.
The task's own signal (a PUBLISH from inside it, bench/noop_app.py) is timed too: the
floor measured where orderwire's frame leaves from.
"""

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from celery import Celery

from bench.load import EVENT_TIMEOUT, Sample
from bench.noop_app import NOOP_SIGNAL_CHANNEL, NOOP_TASK, make_noop_celery
from orderwire.config import Settings


class CeleryBaseline:
    def __init__(self, redis_url: str, concurrency: int) -> None:
        settings = Settings(redis_url=redis_url, database_url="sqlite://", secret_key="bench")
        self.app: Celery = make_noop_celery(settings)
        self.app.conf.broker_pool_limit = max(10, concurrency)
        self.senders = ThreadPoolExecutor(concurrency, thread_name_prefix="celery-send")
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.signalled: dict[str, float] = {}  # task id -> when its own signal arrived
        self.redis_url = redis_url
        self._signals: redis.client.PubSub | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._receiver = None
        self._listening = threading.Event()

    async def start(self) -> None:
        """Listen for task events, then send one task to prove the whole path works."""
        self.loop = asyncio.get_running_loop()
        threading.Thread(target=self._listen, name="celery-events", daemon=True).start()
        await asyncio.get_running_loop().run_in_executor(None, self._listening.wait, 10)
        signals = redis.Redis.from_url(self.redis_url).pubsub(ignore_subscribe_messages=True)
        signals.subscribe(NOOP_SIGNAL_CHANNEL)
        self._signals = signals
        threading.Thread(target=self._listen_for_signals, name="noop-signals",
                         daemon=True).start()
        for _ in range(20):  # the worker may still be subscribing to its queue
            if (await self.run_one(0)).delivered is not None:
                return
        raise RuntimeError("the no-op worker never completed a task")

    def _listen(self) -> None:
        with self.app.connection_for_read() as connection:
            receiver = self.app.events.Receiver(
                connection, handlers={"task-succeeded": self._succeeded}
            )
            self._receiver = receiver
            ready = receiver.on_consume_ready

            def on_consume_ready(*args: Any, **kwargs: Any) -> Any:
                self._listening.set()
                return ready(*args, **kwargs)

            receiver.on_consume_ready = on_consume_ready
            receiver.capture(limit=None, timeout=None, wakeup=False)

    def _listen_for_signals(self) -> None:
        assert self._signals is not None
        try:
            for message in self._signals.listen():
                self.signalled[message["data"].decode()] = time.perf_counter()
        except (redis.RedisError, OSError, AttributeError, ValueError):
            return  # closed by stop()

    def _succeeded(self, event: dict[str, Any]) -> None:
        arrived = time.perf_counter()
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._resolve, event.get("uuid"), arrived)

    def _resolve(self, task_id: str | None, arrived: float) -> None:
        future = self.waiting.pop(task_id, None) if task_id is not None else None
        if future is not None and not future.done():
            future.set_result(arrived)

    def _send(self, task_id: str) -> None:
        self.app.send_task(NOOP_TASK, args=[task_id], task_id=task_id)

    async def run_one(self, _index: int) -> Sample:
        assert self.loop is not None
        key = f"noop-{uuid.uuid4()}"
        future: asyncio.Future[float] = self.loop.create_future()
        self.waiting[key] = future
        sample = Sample(key, time.perf_counter())
        await self.loop.run_in_executor(self.senders, self._send, key)
        sample.answered, sample.status = time.perf_counter(), 202
        try:
            sample.delivered = await asyncio.wait_for(future, EVENT_TIMEOUT)
        except TimeoutError:
            self.waiting.pop(key, None)
        sample.signalled = self.signalled.pop(key, None)
        return sample

    def stop(self) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True
        self.senders.shutdown(wait=False)
        if self._signals is not None:
            self._signals.close()
