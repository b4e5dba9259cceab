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
        if self._down_since is None:  # the common case, without the lock
            return
        with self._lock:
            if self._down_since is None:
                return
            seconds = time.monotonic() - self._down_since
            self._down_since = None
        self.log.info(
            "%s reconnected to Redis after %.1f s",
            self.component,
            seconds,
            extra={"event": "redis.reconnected", "component": self.component},
        )
