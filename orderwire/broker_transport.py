"""kombu's Redis transport, with a channel that finishes closing when Redis is gone.

Why this exists: when Redis dies while the Celery worker's consumer waits in BRPOP,
Celery (5.7, `Consumer.on_connection_error_after_connected`) first calls
`connection.collect()` and then `connection.close()`. kombu's `redis.Channel.close()`
begins by reading the reply of the BRPOP in flight; on a dead socket that read raises
`ConnectionError` *before* the channel is marked closed (`_brpop_read` has reset
`_in_poll` on its way out). `collect()` swallows the error and detaches the transport
from its connection (`transport.client = None`). The later `close()` then closes the
channel for real, reaches `QoS.restore_unacked()`, which builds a new connection pool
from `transport.client.hostname`, and dies with
`AttributeError: 'NoneType' object has no attribute 'hostname'`. That error is not a
connection error, so Celery treats it as unrecoverable and the worker's main process
exits. Upstream reports of the same failure: celery/kombu#582 and #970 (the same
AttributeError from `_connparams` during close) and celery/celery#10205.

The fix is where the sequence goes wrong: a channel whose close is cut short by the
dead BRPOP socket is closed anyway, right then, while its transport still knows the
broker. Restoring unacknowledged messages may fail too (Redis is down): that raises a
connection error, which every caller already expects, and the messages stay in
Redis's unacked index, whence the visibility timeout (or, if Redis came back empty,
the command sweeper) brings them back. And a channel that is first closed only after
the transport was detached gets a connection error too, not an AttributeError.

`create_celery` calls `install()`, which makes these classes serve the `redis://`,
`rediss://` and `sentinel://` schemes; the broker URL itself is unchanged.

Every channel also sends through one Redis client: kombu's Redis channel builds a new
`redis.Redis` object for every message it sends (`Channel.conn_or_acquire`), about
110 µs each, as much as the LPUSH or PUBLISH itself: paid by the web for every command's
`send_task`, and three times per command by the worker's main process, which sends the
task events (a fifth of its CPU in a profile). Each channel keeps one client (on the
channel's own connection pool, which redis-py makes thread-safe) and reuses it; a
channel made again after Redis restarted makes its own.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

import kombu.transport as kombu_transport
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from redis import exceptions as redis_errors


class _ClosesEvenWhenRedisIsGone:
    """Mixin for kombu's Redis channels (see the module docstring)."""

    closed: bool
    connection_errors: tuple[type[BaseException], ...]

    def close(self) -> None:
        try:
            # The ignores in these mixins: their methods and attributes are the kombu
            # Channel's they are mixed into, which the checker cannot see from here.
            super().close()  # type: ignore[misc]
        except self.connection_errors:
            if self.closed:
                raise  # failed later, restoring unacked messages: closed all the same
            # Cut short while reading the BRPOP reply from a dead socket: there is no
            # reply to read, so close the rest now, without it.
            self._finish_close_without_the_brpop_reply()

    def _finish_close_without_the_brpop_reply(self) -> None:
        # What kombu's close does after draining the BRPOP reply, except deleting
        # auto-delete fanout queues: that needs the Redis that just failed us.
        self._in_poll = None
        self.connection.cycle.discard(self)  # type: ignore[attr-defined]
        self._disconnect_pools()  # type: ignore[attr-defined]
        self._close_clients()  # type: ignore[attr-defined]
        virtual.Channel.close(self)  # type: ignore[arg-type]

    def _connparams(self, asynchronous: bool = False) -> dict[str, object]:
        # A channel closed only after its connection detached the transport (which
        # `Connection.collect()` does) has no broker address left. Say so with a
        # connection error, which every caller of close() expects, rather than the
        # AttributeError that stops a Celery worker.
        if self.connection is None or self.connection.client is None:  # type: ignore[attr-defined]
            raise redis_errors.ConnectionError("the broker connection was already closed")
        return super()._connparams(asynchronous)  # type: ignore[misc]


class _SendsThroughOneClient:
    """Mixin for kombu's Redis channels: one Redis client for every message sent."""

    @cached_property
    def _sending_client(self) -> Any:
        return self._create_client()  # type: ignore[attr-defined]  # kombu's Channel's

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        yield client if client else self._sending_client


class Channel(_SendsThroughOneClient, _ClosesEvenWhenRedisIsGone, kombu_redis.Channel):
    pass


class SentinelChannel(
    _SendsThroughOneClient, _ClosesEvenWhenRedisIsGone, kombu_redis.SentinelChannel
):
    pass


class Transport(kombu_redis.Transport):
    Channel = Channel


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = SentinelChannel


# Every app of this process, the worker's and Flower's included, uses these: the worker's
# main process sends three task events per command, and a client built for each was a
# fifth of its CPU (docs/benchmarks.md, "The fifth session").
_OURS = {
    "redis": f"{__name__}:Transport",
    "rediss": f"{__name__}:Transport",
    "sentinel": f"{__name__}:SentinelTransport",
}


def install() -> None:
    """Make the `redis://`, `rediss://` and `sentinel://` broker URLs of this process use
    the classes above. Registered as kombu's aliases for those schemes, rather than named
    by Celery's `broker_transport`, so that a connection still prints and parses as
    `redis://…` (Flower picks its broker page by that scheme). Idempotent."""
    for scheme, path in _OURS.items():
        if kombu_transport.TRANSPORT_ALIASES.get(scheme) != path:
            kombu_transport.TRANSPORT_ALIASES[scheme] = path
            # Resolved lazily, and cached; the cache is private, so the stubs do not list it.
            kombu_transport._transport_cache.pop(scheme, None)  # type: ignore[attr-defined]
