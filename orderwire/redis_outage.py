"""One log line when a process loses Redis, and one when it has it back.

Every orderwire process rides through a Redis restart on its own (redis-py reconnects
on the next command; the loops that hold a subscription resubscribe). What an operator
needs is to see that it happened and that it is over, once per outage, not once per
failed request: `RedisOutage.lost()` logs `redis.lost` the first time, and
`RedisOutage.answered()` logs `redis.reconnected`, with how long it took, the first time
Redis answers afterwards. Thread-safe; both calls are cheap when nothing changes.
"""

import logging
import threading
import time


class RedisOutage:
    def __init__(self, component: str, log: logging.Logger) -> None:
        self.component = component
        self.log = log
        self._lock = threading.Lock()
        self._down_since: float | None = None

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def lost(self, error: BaseException) -> None:
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
        self.log.warning(
            "%s lost its Redis connection (%s); retrying",
            self.component,
            type(error).__name__,
            extra={"event": "redis.lost", "component": self.component},
        )

    def answered(self) -> None:
        """Redis just answered: says it is back if it was lost."""
        if self._down_since is None:  # the common case, without the lock
            return
        self.reconnected()

    def reconnected(self) -> None:
        """Redis is back; also for clients that reconnect by themselves, unseen (redis-py's
        PubSub does, and resubscribes), so that `lost()` may never have been called."""
        with self._lock:
            down_since, self._down_since = self._down_since, None
        took = "" if down_since is None else f" after {time.monotonic() - down_since:.1f} s"
        self.log.info(
            "%s reconnected to Redis%s",
            self.component,
            took,
            extra={"event": "redis.reconnected", "component": self.component},
        )
