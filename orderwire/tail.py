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
    delay = 0.5
    lost = False
    while True:
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.psubscribe("orderwire.events.*")
            if lost:
                errors.write("orderwire tail: reconnected to Redis\n")
                errors.flush()
            lost, delay = False, 0.5
            for message in pubsub.listen():
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
            lost = True
            errors.write(f"orderwire tail: Redis unreachable ({error}); retrying in {delay:.1f}s\n")
            errors.flush()
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
        finally:
            pubsub.close()
