"""How many times a command has been attempted, counted in Redis: outside the command's
transaction, so a process that dies mid-attempt cannot roll the count back.

One round trip per attempt (HINCRBY, HSET of the start time and EXPIRE in one pipeline),
made while the command's row is locked (so a duplicate that finds the command done
counts nothing). On SQLite that lock is the database's one write lock, so the counter
has its own client with a short timeout: a hanging Redis costs a command at most
`timeout` seconds of everyone's lock before it counts in the command log instead
(pipeline/attempts.py). The key expires once no further delivery can be expected, so
counts do not pile up; if Redis forgets one (a restart without persistence), the
command log's count, committed with every verdict, is the floor.

The start time tells the sweeper a command is being attempted right now (its status is
committed only with its outcome), so it does not send a copy of a live attempt; and it
lets `GET /api/commands/<id>` answer `running` while an attempt is under way.
"""

import time

import redis

ATTEMPTS_PREFIX = "orderwire:attempts:"


class RedisAttemptCounter:
    def __init__(
        self,
        client: redis.Redis,
        *,
        ttl_seconds: int,
        timeout: float = 0.5,
        own_client: redis.Redis | None = None,
    ) -> None:
        """`own_client`: a client made with the short timeout already (under Sentinel, by
        orderwire.redis_clients, whose pools cannot be copied like a plain one's)."""
        if own_client is not None:
            self.client = own_client
        else:
            pool_options = {
                **client.connection_pool.connection_kwargs,
                "socket_timeout": timeout,
                "socket_connect_timeout": timeout,
            }
            self.client = redis.Redis(connection_pool=redis.ConnectionPool(
                connection_class=client.connection_pool.connection_class, **pool_options
            ))
        self.ttl_seconds = ttl_seconds

    def __call__(self, command_id: str) -> int:
        """Count one more attempt of the command, starting now; returns its number (1 first)."""
        key = ATTEMPTS_PREFIX + command_id
        pipe = self.client.pipeline(transaction=False)
        pipe.hincrby(key, "count", 1)
        pipe.hset(key, "started", repr(time.time()))
        pipe.expire(key, self.ttl_seconds)
        attempt, _, _ = pipe.execute()
        return int(attempt)

    def renew(self, command_ids: list[str]) -> None:
        """A live worker still runs these commands: their latest attempt's start time moves
        to now (the lease, orderwire/pipeline/lease.py), so neither the sweeper nor the
        status query takes them for abandoned."""
        if not command_ids:
            return
        now = repr(time.time())
        pipe = self.client.pipeline(transaction=False)
        for command_id in command_ids:
            pipe.hset(ATTEMPTS_PREFIX + command_id, "started", now)
            pipe.expire(ATTEMPTS_PREFIX + command_id, self.ttl_seconds)
        pipe.execute()

    def under_way(self, command_id: str, since: float) -> int | None:
        """The number of the command's latest attempt if it started after `since`, else None:
        what the status query shows as `running` (the log says so only with the outcome)."""
        count, started = self.client.hmget(ATTEMPTS_PREFIX + command_id, ["count", "started"])
        if count is None or started is None or float(started) <= since:
            return None
        return int(count)

    def started_since(self, command_ids: list[str], since: float) -> set[str]:
        """Which of these commands had an attempt start after `since` (a Unix time)."""
        if not command_ids:
            return set()
        pipe = self.client.pipeline(transaction=False)
        for command_id in command_ids:
            pipe.hget(ATTEMPTS_PREFIX + command_id, "started")
        started = pipe.execute()
        return {
            command_id
            for command_id, at in zip(command_ids, started, strict=True)
            if at is not None and float(at) > since
        }
