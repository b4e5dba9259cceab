"""The durable event feed: the Redis Stream `orderwire:events` and its subscriber kit.

- `names`: the stream and the per-group keys
- `consumer`: `consume(group, types)`, a consumer-group reader with ack, retry,
  parking and dedup (docs/events.md, "The durable feed")
- `groups`: how far behind each group is, and the relay's warning (`FeedWatch`)
- `metrics`: those figures on /metrics
- `rebuild`: re-append published events from the outbox to a feed Redis lost
- `tail`: `orderwire tail --group NAME`, the reference consumer
- `commands`: the command-line side (`tail --group` options, `orderwire feed ...`)

The feed itself is written by the publishing script (orderwire/outbox/publisher.py).
"""

from orderwire.feed.consumer import FeedConsumer, consume, ensure_group, parked

__all__ = ["FeedConsumer", "consume", "ensure_group", "parked"]
