"""The reference subscriber: `orderwire tail` prints every event as it arrives.

It is the example for other services: PSUBSCRIBE orderwire.events.*, parse the
envelope, and drop an `id` already seen (delivery is at least once). Pub/sub
keeps nothing for a subscriber that is away: while Redis is unreachable, tail
says so on stderr and reconnects with backoff; a service that must see every
event, gaps included, reads the events table or the session streams instead.
"""

import json
import sys
import time
from collections import OrderedDict
from typing import TextIO

import redis

SEEN_LIMIT = 100_000


def tail(
    client: redis.Redis,
    out: TextIO = sys.stdout,
    *,
    limit: int | None = None,
    errors: TextIO = sys.stderr,
) -> None:
    """Print one JSON envelope per line; stop after `limit` distinct events if given."""
    seen: OrderedDict[str, None] = OrderedDict()
    printed = 0
    delay = 0.25
    subscribed_before = False
    while True:
        pubsub = client.pubsub()
        try:
            pubsub.psubscribe("orderwire.events.*")
            for message in pubsub.listen():
                if message["type"] == "psubscribe":
                    # Every confirmation after the first is a reconnection, whether seen
                    # here as an error or done by redis-py by itself (it resubscribes).
                    if subscribed_before:
                        errors.write("orderwire tail: reconnected to Redis\n")
                        errors.flush()
                    subscribed_before, delay = True, 0.25
                    continue
                if message["type"] != "pmessage":
                    continue
                envelope = json.loads(message["data"])
                if envelope["id"] in seen:
                    continue
                seen[envelope["id"]] = None
                if len(seen) > SEEN_LIMIT:
                    seen.popitem(last=False)
                out.write(json.dumps(envelope, ensure_ascii=False) + "\n")
                out.flush()
                printed += 1
                if limit is not None and printed >= limit:
                    return
        except (redis.ConnectionError, redis.TimeoutError) as error:
            errors.write(f"orderwire tail: Redis unreachable ({error}); retrying in {delay:.1f}s\n")
            errors.flush()
            time.sleep(delay)
            delay = min(delay * 2, 1.0)  # a reconnect a second costs Redis nothing
        finally:
            pubsub.close()
