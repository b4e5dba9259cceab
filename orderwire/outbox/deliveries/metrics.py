"""Subscriber delivery on `GET /metrics`, read from the database at scrape time.

A subscriber falling behind shows as a growing `orderwire_subscriber_lag`; one that keeps
failing on an event as `orderwire_subscriber_failures` above 0 (until it is parked), and
what was parked as `orderwire_subscriber_parked` (alert on it: it stays until re-driven or
discarded), and what an operator gave up on as `orderwire_subscriber_discarded`.
"""

import logging
from collections.abc import Iterator, Sequence

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from orderwire.outbox.deliveries.status import subscriber_status
from orderwire.outbox.deliveries.subscriptions import Subscription

log = logging.getLogger("orderwire.metrics")


class DeliveryCollector(Collector):
    def __init__(self, engine: Engine, subscriptions: Sequence[Subscription]) -> None:
        self.engine, self.subscriptions = engine, list(subscriptions)

    def collect(self) -> Iterator[Metric]:
        try:
            found = subscriber_status(self.engine, self.subscriptions)
        except Exception:
            # orderwire_dependency_up{dependency="database"} already says the database is away.
            log.warning("metrics: cannot read the subscribers' positions", exc_info=True)
            return
        gauges = (
            ("lag", "Events of the types an after-commit subscriber handles that it has not "
                    "reached yet.", lambda status: status.lag),
            ("failures", "Consecutive failures of an after-commit subscriber on the event it is "
                         "retrying (0 when it is not failing).", lambda status: status.failures),
            ("parked", "Events an after-commit subscriber kept failing on, set aside until an "
                       "operator re-drives or discards them (orderwire deliveries).",
             lambda status: status.parked),
            ("discarded", "Parked events an operator gave up for an after-commit subscriber, "
                          "each with a recorded reason (orderwire deliveries discarded).",
             lambda status: status.discarded),
        )
        for suffix, documentation, value in gauges:
            family = GaugeMetricFamily(
                f"orderwire_subscriber_{suffix}", documentation, labels=["subscriber"]
            )
            for status in found:
                family.add_metric([status.subscriber], value(status))
            yield family
