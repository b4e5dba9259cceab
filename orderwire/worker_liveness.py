"""Proof that a Celery worker is consuming, not merely alive.

A worker process can be up and yet take nothing from the broker: the consumer lost its
connection and never got it back (celery/celery#10205), or its loop is stuck. A PID
check cannot tell. So every worker sends itself a probe message through the broker
every `ORDERWIRE_WORKER_PROBE_SECONDS` (default 5), on a queue of its own, and its
consumer loop, the same loop that takes commands, records each probe it consumes as a
Redis key that lives for `PROBES_PER_WINDOW` probe intervals. The key's value is its
lifetime, so its remaining time to live says how long ago the worker consumed: no host
clocks are compared, and it reads the same from every host.

Readers: `orderwire worker-alive` (the docker-compose healthcheck and `make run`'s
supervision), `/readyz` and `/metrics`.
"""

from dataclasses import dataclass

import redis

KEY_PREFIX = "orderwire:worker-consumed:"
PROBES_PER_WINDOW = 6


def probe_queue(node: str) -> str:
    """The queue a worker sends its probes to and consumes them from."""
    return f"orderwire.liveness.{node}"


def window(probe_seconds: float) -> float:
    """How long a consumed probe counts: a worker missing this many probes in a row is not
    consuming."""
    return probe_seconds * PROBES_PER_WINDOW


def record_consumed(client: redis.Redis, node: str, probe_seconds: float) -> None:
    lifetime_ms = int(window(probe_seconds) * 1000)
    client.set(KEY_PREFIX + node, lifetime_ms, px=lifetime_ms)


@dataclass(frozen=True)
class Consumption:
    node: str
    seconds_since_consumed: float


def _ages(client: redis.Redis, keys: list[bytes]) -> list[float | None]:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.get(key)
        pipe.pttl(key)
    replies = pipe.execute()
    ages: list[float | None] = []
    for lifetime_ms, remaining_ms in zip(replies[::2], replies[1::2], strict=True):
        if lifetime_ms is None or remaining_ms < 0:  # expired in between
            ages.append(None)
        else:
            ages.append(max(0.0, (int(lifetime_ms) - remaining_ms) / 1000))
    return ages


def consuming_workers(client: redis.Redis) -> list[Consumption]:
    """Every worker whose last consumed probe still counts, and how long ago it was."""
    keys = sorted(client.scan_iter(match=KEY_PREFIX + "*", count=500))
    found = []
    for key, age in zip(keys, _ages(client, keys) if keys else [], strict=True):
        if age is not None:
            found.append(Consumption(key.decode()[len(KEY_PREFIX):], age))
    return found


def seconds_since_consumed(client: redis.Redis, node: str) -> float | None:
    """How long ago `node` last consumed a probe; None if that no longer counts."""
    return _ages(client, [(KEY_PREFIX + node).encode()])[0]
