"""The feed's metrics on `GET /metrics`, read from Redis at scrape time (orderwire/feed/groups.py).

A group that falls behind shows as a growing `orderwire_feed_group_lag` (not yet
delivered) or `orderwire_feed_group_pending` (delivered, not acknowledged), and
an `orderwire_feed_group_oldest_unhandled_seconds` that keeps rising.
"""

import logging
from collections.abc import Iterator

import redis
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from orderwire.feed.groups import read_feed_state

log = logging.getLogger("orderwire.metrics")


class FeedCollector(Collector):
    def __init__(self, client: redis.Redis, maxlen: int) -> None:
        self.client, self.maxlen = client, maxlen

    def collect(self) -> Iterator[Metric]:
        try:
            state = read_feed_state(self.client)
        except redis.RedisError:
            # orderwire_dependency_up{dependency="redis"} already says Redis is away.
            log.warning("metrics: cannot read the feed", exc_info=True)
            return
        yield GaugeMetricFamily(
            "orderwire_feed_entries",
            "Entries in the durable feed orderwire:events (kept: at least ORDERWIRE_FEED_MAXLEN).",
            value=state.length,
        )
        yield GaugeMetricFamily(
            "orderwire_feed_maxlen",
            "ORDERWIRE_FEED_MAXLEN: entries the feed keeps at least.",
            value=self.maxlen,
        )
        per_group = (
            (
                "lag",
                "Feed entries not yet delivered to any consumer of the group.",
                lambda g: g.lag,
            ),
            (
                "pending",
                "Feed entries delivered to a consumer of the group, not yet acknowledged.",
                lambda g: g.pending,
            ),
            (
                "oldest_unhandled_seconds",
                "Age of the group's oldest entry not yet acknowledged (pending or undelivered); "
                "0 when it is caught up.",
                lambda g: g.oldest_unhandled_seconds,
            ),
            (
                "consumers",
                "Consumers the group has seen (dead ones stay until deleted).",
                lambda g: g.consumers,
            ),
            (
                "parked",
                "Events the group's handler kept failing on, set aside.",
                lambda g: g.parked,
            ),
        )
        for suffix, documentation, value in per_group:
            family = GaugeMetricFamily(
                f"orderwire_feed_group_{suffix}", documentation, labels=["group"]
            )
            for group in state.groups:
                family.add_metric([group.name], value(group))
            yield family
