"""What the durable feed costs per event: `python -m bench.feed_cost [--events N] [--rounds R]`.

The feed is a few more lines in the publishing script (an HGET, an XADD, an HSET).
`make bench` measures CPU per command end to end, but on a shared machine its
run-to-run spread (10% and more) is wider than the feed's share, so this measures the
script itself: the same publisher, with and without the feed's lines (A and B
alternating, R rounds each, in one process against one private Redis), and reports
Redis's CPU and the publishing process's CPU per event, as medians. Each batch is two
events with one session each, what a PlaceOrder commits (OrderPlaced and its
NotificationCreated). Figures are quoted in docs/events.md ("Cost").
"""

import argparse
import hashlib
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from orderwire.local_redis import PrivateRedis
from orderwire.outbox import publisher as publishing
from orderwire.outbox.envelope import dumps, make_envelope
from orderwire.outbox.store import OutboxEvent

FEED_BLOCK_START = "-- The durable feed"
FEED_BLOCK_END = "redis.call('EXPIRE', marker, ttl)\n"


def script_without_feed(script: str) -> str:
    """The publishing script as it was before the feed: its feed lines cut out."""
    start, end = script.index(FEED_BLOCK_START), script.index(FEED_BLOCK_END)
    return script[:start] + "if any then redis.call('EXPIRE', marker, ttl) end\n" + (
        script[end + len(FEED_BLOCK_END) :]
    )


def two_events(session: str) -> list[OutboxEvent]:
    order_id = str(uuid.uuid4())
    placed = {"order_id": order_id, "customer_name": "Ada Lovelace", "total": "2.50",
              "lines": [{"product": "tea", "quantity": 2, "unit_price": "1.25"}]}
    note = {"notification_id": str(uuid.uuid4()), "text": f"Order {order_id[:8]} placed: 2.50"}
    batch = []
    for kind, data, aggregate in (("OrderPlaced", placed, order_id),
                                  ("NotificationCreated", note, note["notification_id"])):
        event_id = str(uuid.uuid4())
        envelope = dumps(make_envelope(
            event_id=event_id, event_type=kind, occurred_at=datetime.now(UTC),
            request_id=str(uuid.uuid4()), aggregate_id=aggregate, aggregate_version=1, data=data,
        ))
        batch.append(OutboxEvent(event_id, kind, aggregate, (session,), envelope))
    return batch


def redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def measure(publisher: publishing.RedisEventPublisher, client: redis.Redis, events: int
            ) -> tuple[float, float]:
    """(Redis CPU µs, publisher CPU µs) per event, publishing `events` in PlaceOrder batches."""
    batches = [two_events(f"s-{uuid.uuid4().hex[:16]}") for _ in range(events // 2)]
    server_before, client_before = redis_cpu(client), time.process_time()
    for batch in batches:
        publisher.publish(batch)
    server, own = redis_cpu(client) - server_before, time.process_time() - client_before
    return server / events * 1e6, own / events * 1e6


def run(events: int, rounds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="orderwire-feed-cost-") as workdir, \
            PrivateRedis(Path(workdir), appendonly=True) as server:
        client = redis.Redis.from_url(server.url)
        with_feed = publishing.RedisEventPublisher(client)
        without_feed = _publisher_without_feed(client)
        measure(with_feed, client, 2000)  # warm up: scripts loaded, connections open
        measure(without_feed, client, 2000)
        samples: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
        for _ in range(rounds):
            samples["A"].append(measure(without_feed, client, events))
            samples["B"].append(measure(with_feed, client, events))
        feed_length = client.xlen("orderwire:events")
    result: dict[str, Any] = {
        "events_per_round": events, "rounds": rounds, "feed_entries": feed_length
    }
    for side, label in (("A", "without_feed"), ("B", "with_feed")):
        result[label] = {
            "redis_us_per_event": statistics.median(s[0] for s in samples[side]),
            "publisher_us_per_event": statistics.median(s[1] for s in samples[side]),
        }
    return result


def _publisher_without_feed(client: redis.Redis) -> publishing.RedisEventPublisher:
    """The same publisher class, sending the script without the feed's lines (loaded here,
    so the publisher never needs to load it itself)."""
    script = script_without_feed(publishing.PUBLISH_SCRIPT)
    publisher = publishing.RedisEventPublisher(client)
    publisher._script_sha = hashlib.sha1(script.encode()).hexdigest()
    client.script_load(script)
    return publisher


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.feed_cost", description=__doc__)
    parser.add_argument("--events", type=int, default=20_000, help="events per round and side")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    result = run(args.events, args.rounds)
    print(json.dumps(result, indent=2))
    a, b = result["without_feed"], result["with_feed"]
    for key in ("redis_us_per_event", "publisher_us_per_event"):
        print(f"{key}: {a[key]:.1f} -> {b[key]:.1f} (+{b[key] - a[key]:.1f})")


if __name__ == "__main__":
    main()

