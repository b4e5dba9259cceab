"""The delivery sweeper: re-sends after-commit deliveries that never took effect.

An after-commit subscriber's task is sent when its event is published. If that
task is lost afterwards (Redis restarted without persistence, Celery gave up
after its retries while the subscriber's dependency was down), the event is
already marked published and nothing would send it again. This sweeper looks
for recent events of subscribed types that have no `handled_events` row for a
subscriber after `after`, and sends the delivery again. That is safe because a
delivery applies at most once per (event, subscriber).

`after` is longer than Celery's own retries take, so deliveries still being
retried are left alone; a delivery re-sent here is not re-sent again for
another `after`, so a subscriber that keeps failing is retried at that pace, not
in a storm, until `horizon` ends the attempts.
"""

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, exists, select

from orderwire.db.clock import database_time
from orderwire.db.engine import read_only
from orderwire.db.tables import events, handled_events

log = logging.getLogger("orderwire.sweeper")

EnqueueDelivery = Callable[[str, str], None]  # (subscriber name, event id)


class DeliverySweeper:
    def __init__(
        self,
        engine: Engine,
        enqueue: EnqueueDelivery,
        subscribers: dict[str, list[Any]],
        *,
        after: timedelta = timedelta(minutes=15),
        horizon: timedelta = timedelta(hours=24),
        batch_size: int = 200,
    ) -> None:
        self.engine = engine
        self.enqueue = enqueue
        self.subscribers = subscribers
        self.after = after
        self.horizon = horizon
        self.batch_size = batch_size
        self._resent: dict[tuple[str, str], float] = {}  # -> monotonic time of the re-send

    def sweep(self) -> int:
        """Re-send one batch of missing deliveries; returns how many."""
        clock = time.monotonic()
        self._forget_older_than(clock - self.after.total_seconds())
        missing = self._missing()
        sent = 0
        for subscriber, event_id in missing:
            if (subscriber, event_id) in self._resent:
                continue
            try:
                self.enqueue(subscriber, event_id)
            except Exception:
                log.warning("re-sending a delivery failed", exc_info=True)
                break
            self._resent[(subscriber, event_id)] = clock
            sent += 1
            log.info(
                "re-sent a lost delivery",
                extra={"event": "delivery.resent", "event_id": event_id, "subscriber": subscriber},
            )
        return sent

    def _missing(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        with read_only(self.engine).connect() as connection:
            now = database_time(connection)  # occurred_at is on the database's clock too
            for event_type, subscribers in self.subscribers.items():
                for subscriber in {subscriber.__name__ for subscriber in subscribers}:
                    handled = exists().where(
                        handled_events.c.event_id == events.c.event_id,
                        handled_events.c.subscriber == subscriber,
                    )
                    rows = connection.execute(
                        select(events.c.event_id)
                        .where(
                            events.c.type == event_type,
                            events.c.occurred_at < now - self.after,
                            events.c.occurred_at > now - self.horizon,
                            events.c.published_at.is_not(None),
                            ~handled,
                        )
                        .order_by(events.c.occurred_at)
                        .limit(self.batch_size)
                    ).scalars()
                    found.extend((subscriber, event_id) for event_id in rows)
        return found

    def _forget_older_than(self, moment: float) -> None:
        for key in [key for key, sent_at in self._resent.items() if sent_at < moment]:
            del self._resent[key]
