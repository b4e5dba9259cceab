"""Celery's Redis transport, sending through one Redis client per channel.

kombu's Redis channel builds a new `redis.Redis` object for every message it sends
(`Channel.conn_or_acquire`): about 110 µs each on this machine, as much as the LPUSH
itself, paid by the web for every command's `send_task` and by a worker for its task
events. This channel keeps one client (on the channel's own connection pool, which
redis-py makes thread-safe) and reuses it. Everything else is kombu's: the URL stays
`redis://` (so Flower's Broker page works), and only the class differs, through
Celery's `broker_transport` setting (orderwire/task_queue.py).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from kombu.transport import redis as kombu_redis

TRANSPORT = "orderwire.broker_transport:Transport"


class Channel(kombu_redis.Channel):
    @cached_property
    def _sending_client(self) -> Any:
        return self._create_client()

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        yield client if client else self._sending_client


class Transport(kombu_redis.Transport):
    Channel = Channel
