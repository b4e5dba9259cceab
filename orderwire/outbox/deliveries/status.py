"""How each subscriber is doing, for `orderwire deliveries status` and `GET /metrics`."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from orderwire.db.engine import read_only
from orderwire.db.tables import discarded_deliveries, parked_deliveries
from orderwire.outbox.deliveries import store
from orderwire.outbox.deliveries.subscriptions import Subscription


@dataclass(frozen=True)
class SubscriberStatus:
    subscriber: str
    types: list[str]
    position: int | None  # None: the relay has not started it yet (it will begin at 0)
    lag: int  # events of its types after its position
    failures: int  # on the event it is retrying, 0 when it is not failing
    failing_event_id: str | None
    last_error: str | None
    retry_at: datetime | None
    parked: int
    discarded: int  # parked ones an operator gave up on (orderwire deliveries discard)


def subscriber_status(
    engine: Engine, subscriptions: Sequence[Subscription]
) -> list[SubscriberStatus]:
    with read_only(engine).connect() as connection, connection.begin():
        known = store.positions(connection)
        parked = store.counts_by_subscriber(connection, parked_deliveries)
        discarded = store.counts_by_subscriber(connection, discarded_deliveries)
        found = []
        for subscription in subscriptions:
            position = known.get(subscription.name)
            at = position.position if position else 0
            found.append(
                SubscriberStatus(
                    subscriber=subscription.name,
                    types=sorted(subscription.types),
                    position=position.position if position else None,
                    lag=store.lag(connection, at, subscription.types),
                    failures=position.failures if position else 0,
                    failing_event_id=position.failing_event_id if position else None,
                    last_error=position.last_error if position else None,
                    retry_at=position.retry_at if position else None,
                    parked=parked.get(subscription.name, 0),
                    discarded=discarded.get(subscription.name, 0),
                )
            )
    return found
