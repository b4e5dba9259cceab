"""Per-client rate limit on command endpoints, counted in Redis so every web process shares it.

A fixed window: one counter per client and window (`INCR` + `EXPIRE` in one
MULTI/EXEC round trip), so N web processes behind one address see one limit, and
the keys clean themselves up. A fixed window can let up to twice the limit through
around a window boundary; for a guard against floods (not billing) that is fine,
and it costs one round trip instead of a sorted set per client.

The client is its address (`request.remote_addr`): a session cookie is free to
drop, an address is not. Behind a reverse proxy, list it in TRUSTED_PROXIES so
that the address is the client's (web/proxies.py), or every client shares one limit.

If Redis cannot be reached the limit fails open: commands are still accepted
(they are stored in the database; the sweeper enqueues them later), and the
miss is logged. Refusing every command because the limiter is down would turn
a Redis blip into an outage of the part of the system that does not need Redis.
"""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import redis
from flask import Flask, current_app, request

from orderwire.redis_outage import RedisOutage
from web.api.errors import ApiError

log = logging.getLogger("orderwire.web")

KEY_PREFIX = "orderwire:ratelimit:"


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` commands per client in each window of `window` seconds
    (ORDERWIRE_RATE_LIMIT="COUNT/SECONDS", validated by orderwire.config)."""

    limit: int
    window: int


class RedisRateLimiter:
    def __init__(
        self, client: redis.Redis, rate: RateLimit, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.client = client
        self.rate = rate
        self.clock = clock
        self.outage = RedisOutage("rate limiter", log)

    def hit(self, client_key: str) -> int | None:
        """Count one command for `client_key`; None if allowed, else seconds until it is.

        Never raises for Redis trouble: the limit fails open.
        """
        now = self.clock()
        window = int(now // self.rate.window)
        key = f"{KEY_PREFIX}{client_key}:{window}"
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.incr(key)
            pipe.expire(key, self.rate.window + 1)
            count = pipe.execute()[0]
        except (redis.RedisError, OSError) as error:
            self.outage.lost(error)
            log.warning(
                "rate limit unavailable (Redis); letting the command through",
                extra={"event": "rate_limit.unavailable"},
            )
            return None
        self.outage.answered()
        if count <= self.rate.limit:
            return None
        return max(1, math.ceil((window + 1) * self.rate.window - now))


def client_key() -> str:
    return request.remote_addr or "unknown"


class CommandRateLimit:
    """The Flask extension: every command the app takes (a POST to any of its routes: the
    JSON API's and the forms') counts against its client's limit; over it, 429 in the
    contract's error shape with `Retry-After`.

    One app-wide hook rather than one per blueprint, so a new command route is counted
    without anyone remembering to. It runs after CSRF protection (registered first by
    `create_app`), as the blueprints' hooks did, so a form refused for its token is not
    counted. A POST that matches no route (404, 405) is not a command and is not counted."""

    key = "rate_limiter"

    def init_app(self, app: Flask, client: redis.Redis, rate: tuple[int, int] | None) -> None:
        """No limit when `rate` is None (ORDERWIRE_RATE_LIMIT=off)."""
        app.extensions[self.key] = RedisRateLimiter(client, RateLimit(*rate)) if rate else None
        app.before_request(self.enforce)

    def get(self) -> RedisRateLimiter | None:
        return cast(RedisRateLimiter | None, current_app.extensions.get(self.key))

    def enforce(self) -> None:
        limiter = self.get()
        if limiter is None or request.method != "POST" or request.url_rule is None:
            return
        retry_after = limiter.hit(client_key())
        if retry_after is not None:
            log.info(
                "rate limited",
                extra={"event": "rate_limit.refused", "path": request.path, "client": client_key()},
            )
            raise ApiError(
                429,
                "rate_limited",
                f"too many commands: at most {limiter.rate.limit} per {limiter.rate.window} s",
                headers={"Retry-After": str(retry_after)},
            )
