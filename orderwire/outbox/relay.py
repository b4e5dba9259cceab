"""Moving committed events from the outbox to Redis: at least once, in commit order per order.

`publish_own` is the fast path a worker takes right after its commit: one Redis round
trip with the events it has in memory, no database. The publishing script holds back
an event whose order has an earlier event still unpublished, and lists every event it
published. `publish_backlog` is what the relay process does in a loop: first (every
half second) mark published, in one short write transaction per batch, the events the
script listed; then publish and mark what is still unpublished after a grace period.
Publishing comes before marking everywhere: a crash between the two publishes again with
the same event id, which subscribers drop and the session streams ignore.
"""

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from redis.client import Pipeline
from sqlalchemy import Connection, Engine, func, literal, select

from orderwire.db.engine import is_postgres, read_only
from orderwire.db.prepared import Prepared
from orderwire.faults import fault_point
from orderwire.outbox import store as outbox
from orderwire.outbox.store import OutboxEvent

log = logging.getLogger("orderwire.relay")

# One relay at a time publishes the backlog, so two relays cannot interleave one order's events.
RELAY_LOCK_ID = 0x6F72_6465  # "orde"
_TRY_RELAY_LOCK = Prepared(
    select(func.pg_try_advisory_xact_lock(literal(RELAY_LOCK_ID)).label("locked"))
)

# Seconds between two markings of the ids the publishing script listed: well inside the
# relay's grace of 2 s.
MARK_EVERY = 0.5

# (batch, only_next) -> the events that went out
Publish = Callable[..., list[OutboxEvent]]


class PublishedIds(Protocol):
    """The ids the publishing script listed (orderwire.outbox.publisher)."""

    def take_published_ids(self, limit: int) -> list[str]: ...

    def forget_published_ids(self, count: int) -> None: ...


class PublishAndCount:
    """What publishing an event means: the Lua script on Redis, with whatever `also` adds to
    that round trip (the metrics). The fast path and the relay both publish through this.
    After-commit subscribers are not told here: they read the outbox themselves, each after
    its own position (orderwire/outbox/deliveries/), so nothing Redis loses can skip them."""

    def __init__(
        self,
        publisher: Any,  # orderwire.outbox.publisher.RedisEventPublisher
        *,
        also: Callable[[list[OutboxEvent], Pipeline], None] | None = None,
    ) -> None:
        self.publisher = publisher
        self.also = also

    def __call__(self, batch: list[OutboxEvent], *, only_next: bool = False) -> list[OutboxEvent]:
        also = self.also
        return self.publisher.publish(
            batch,
            also=(lambda pipe: also(batch, pipe)) if also is not None else None,
            only_next=only_next,
        )


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        publish: Publish,
        *,
        published_ids: PublishedIds | None = None,
        grace: timedelta = timedelta(seconds=2),
        batch_size: int = 500,
    ) -> None:
        self.engine = engine
        # Made once: read_only() builds a new engine view on each call (70 us).
        self.reader = read_only(engine)
        self.publish = publish
        self.published_ids = published_ids
        self.grace = grace
        self.batch_size = batch_size
        self._marks_due = 0.0  # time.monotonic() of the next marking

    def publish_own(self, batch: list[OutboxEvent]) -> None:
        """Fast path after a commit. Never raises: whatever it cannot publish, the relay will."""
        if not batch:
            return
        try:
            self._log_published(self.publish(batch, only_next=True))
        except Exception:
            log.warning("fast-path publish failed; the relay will retry", exc_info=True)

    def mark_confirmed(self) -> int:
        """Mark published in the outbox what the publishing script listed, one batch;
        returns how many. The ids are dropped from the list only after the marks commit."""
        if self.published_ids is None:
            return 0
        event_ids = self.published_ids.take_published_ids(self.batch_size)
        if event_ids:
            with self.engine.connect() as connection, connection.begin():
                outbox.mark_published(connection, event_ids)
            self.published_ids.forget_published_ids(len(event_ids))
        return len(event_ids)

    def publish_backlog(self) -> int:
        """Mark what was published (every `MARK_EVERY` seconds), then publish what is left;
        returns how many events this published. Raises on Redis errors."""
        if time.monotonic() >= self._marks_due:
            # All of them, a batch per short write transaction.
            while self.mark_confirmed() == self.batch_size:
                pass
            self._marks_due = time.monotonic() + MARK_EVERY

        def claim(connection: Connection) -> list[OutboxEvent]:
            if is_postgres(self.engine) and not _TRY_RELAY_LOCK.all(connection, {})[0]["locked"]:
                return []
            return outbox.claim_unpublished(connection, grace=self.grace, limit=self.batch_size)

        published = self._claim_publish_mark(claim)
        if published:
            log.info("relayed %d events", len(published), extra={"event": "relay.published"})
        return len(published)

    def _listed(self) -> set[str]:
        """The ids the script listed and the relay has not marked yet."""
        if self.published_ids is None:
            return set()
        return set(self.published_ids.take_published_ids(self.batch_size))

    def _claim_publish_mark(
        self, claim: Callable[[Connection], list[OutboxEvent]]
    ) -> list[OutboxEvent]:
        """Claim, publish and mark; returns the events published.

        Marks are made every `MARK_EVERY` seconds, not every round: under load one write
        transaction (and one LTRIM) covers several rounds, and an idle relay reads the list
        twice a second instead of five times. So a claimed event may be one the script
        listed (published by a fast path, not marked yet: its transaction committed more
        than the grace after inserting it): it is marked with the batch, not published
        again."""
        if is_postgres(self.engine):
            # Row locks (and the relay's advisory lock) are held until the marks commit.
            with self.engine.connect() as connection, connection.begin():
                batch = claim(connection)
                listed = self._listed() if batch else set()
                unpublished = [e for e in batch if e.event_id not in listed]
                if batch:
                    self._publish(unpublished)
                    outbox.mark_published(connection, [event.event_id for event in batch])
        else:
            # SQLite has one writer lock for the whole database: holding it across a Redis
            # call would stop every command while Redis hangs. So claim in a read transaction
            # and mark in a short write one. Order per aggregate still holds: the fast path
            # holds back an event while an earlier one of its aggregate is unpublished, and
            # marks follow publishing.
            with self.reader.connect() as connection, connection.begin():
                batch = claim(connection)
            listed = self._listed() if batch else set()
            unpublished = [e for e in batch if e.event_id not in listed]
            if batch:
                self._publish(unpublished)
                with self.engine.connect() as connection, connection.begin():
                    outbox.mark_published(connection, [event.event_id for event in batch])
        return unpublished

    def _publish(self, batch: list[OutboxEvent]) -> None:
        if batch:
            self.publish(batch)
        fault_point("relay.after_publish")
        self._log_published(batch)

    def _log_published(self, batch: list[OutboxEvent]) -> None:
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
