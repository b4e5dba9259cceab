"""Moving committed events from the outbox to Redis: at least once, in commit order per order.

`publish_own` is the fast path a worker takes right after its commit;
`publish_backlog` is what the relay process does in a loop. Both publish, then
mark: a crash between the two publishes again with the same event id, which
subscribers drop, and the session streams ignore.
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Connection, Engine, text

from orderwire.db import outbox
from orderwire.db.clock import database_time
from orderwire.db.engine import is_postgres, read_only
from orderwire.db.outbox import OutboxEvent
from orderwire.faults import fault_point

log = logging.getLogger("orderwire.relay")

# One relay at a time publishes the backlog, so two relays cannot interleave one order's events.
RELAY_LOCK_ID = 0x6F72_6465  # "orde"


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        publish: Callable[[list[OutboxEvent]], None],
        *,
        grace: timedelta = timedelta(seconds=2),
        batch_size: int = 500,
    ) -> None:
        self.engine = engine
        self.publish = publish
        self.grace = grace
        self.batch_size = batch_size

    def publish_own(self, event_ids: list[str]) -> None:
        """Fast path after a commit. Never raises: whatever it cannot publish, the relay will."""
        if not event_ids:
            return
        try:
            self._claim_publish_mark(lambda connection: outbox.claim_own(connection, event_ids))
        except Exception:
            log.warning("fast-path publish failed; the relay will retry", exc_info=True)

    def publish_backlog(self) -> int:
        """Publish events the fast path left behind; returns how many. Raises on Redis errors."""

        def claim(connection: Connection) -> list[OutboxEvent]:
            if is_postgres(self.engine) and not connection.execute(
                text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": RELAY_LOCK_ID}
            ).scalar_one():
                return []
            return outbox.claim_unpublished(
                connection,
                occurred_before=database_time(connection) - self.grace,
                limit=self.batch_size,
            )

        batch = self._claim_publish_mark(claim)
        if batch:
            log.info("relayed %d events", len(batch), extra={"event": "relay.published"})
        return len(batch)

    def _claim_publish_mark(
        self, claim: Callable[[Connection], list[OutboxEvent]]
    ) -> list[OutboxEvent]:
        if is_postgres(self.engine):
            # Row locks (and the relay's advisory lock) are held until the marks commit.
            with self.engine.connect() as connection, connection.begin():
                batch = claim(connection)
                if batch:
                    self._publish(batch)
                    outbox.mark_published(connection, [event.event_id for event in batch])
        else:
            # SQLite has one writer lock for the whole database: holding it across a Redis
            # call would stop every command while Redis hangs. So claim in a read transaction
            # and mark in a short write one. Order per aggregate still holds: claim_own skips
            # an event while an earlier one of its aggregate is unmarked, and marks follow
            # publishing.
            with read_only(self.engine).connect() as connection, connection.begin():
                batch = claim(connection)
            if batch:
                self._publish(batch)
                with self.engine.connect() as connection, connection.begin():
                    outbox.mark_published(connection, [event.event_id for event in batch])
        return batch

    def _publish(self, batch: list[OutboxEvent]) -> None:
        self.publish(batch)
        fault_point("relay.after_publish")
        for event in batch:
            log.info(
                "published %s",
                event.type,
                extra={
                    "event": "event.published",
                    "event_id": event.event_id,
                    "request_id": event.request_id,
                },
            )
