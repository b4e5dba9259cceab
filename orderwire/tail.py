"""The reference subscriber: `orderwire tail` prints every event as it arrives.

It is the example for other services: PSUBSCRIBE orderwire.events.*, parse the
envelope, and drop an `id` already seen (delivery is at least once).
"""

import json
import sys
from collections import OrderedDict
from typing import TextIO

import redis

SEEN_LIMIT = 100_000


def tail(client: redis.Redis, out: TextIO = sys.stdout, *, limit: int | None = None) -> None:
    """Print one JSON envelope per line; stop after `limit` distinct events if given."""
    seen: OrderedDict[str, None] = OrderedDict()
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe("orderwire.events.*")
    printed = 0
    try:
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
    finally:
        pubsub.close()
