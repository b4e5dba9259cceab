"""`orderwire tail --group NAME`: the reference consumer of the durable feed.

It prints one JSON envelope per line and acknowledges each once printed. Killed
and started again it goes on where the group stopped: with the same `--consumer`
name it first prints what it had read but not acknowledged; under a new name
those entries are claimed (XAUTOCLAIM) once idle for `--claim-after` seconds, by
whichever consumer of the group gets there first.
"""

import json
import sys
from datetime import timedelta
from typing import TextIO

import redis

from orderwire.feed.consumer import FeedConsumer, default_consumer_name


def tail_group(
    client: redis.Redis,
    group: str,
    *,
    start: str = "0",
    consumer: str | None = None,
    claim_after: float = 60.0,
    limit: int | None = None,
    out: TextIO = sys.stdout,
) -> None:
    """Print and acknowledge the group's events; stop after `limit` if given."""
    reader = FeedConsumer(
        client,
        group,
        consumer=consumer or default_consumer_name(),
        start=start,
        claim_idle=timedelta(seconds=claim_after),
    )
    for printed, event in enumerate(reader.events(), start=1):
        out.write(json.dumps(event, ensure_ascii=False) + "\n")
        out.flush()
        if limit is not None and printed >= limit:
            reader.ack_current()
            return
