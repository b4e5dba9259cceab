"""The relay's delivery job: each after-commit subscriber reads the outbox after its position.

One round (`deliver`) takes, for every subscriber on its own, the next batch of settled
events (settled.py) after its position and, in seq order:

- an event of a type it does not handle: passed over (the position moves past such
  events together with the next applied one, or in one write at the end of the batch);
- an event it handles: applied in a transaction of its own that also moves the position
  onto it. A crash anywhere before the commit keeps neither, so the event is applied again
  later, and never twice;
- an event it fails on: the transaction rolls back, the failure is recorded on the
  position (how many, the error, when to retry: exponential backoff) and the subscriber
  stops for this round. Other subscribers keep going;
- after `max_attempts` failures on one event: *parked*. A `parked_deliveries` row (which,
  how often, the last error) is written and the position moves past it in one transaction,
  so the subscriber is not stuck. `orderwire deliveries redrive` applies it again.

Parking rather than blocking: the one subscriber orderwire has, the sales ledger, adds and
subtracts sums, which commute, so applying a payment after a later cancellation still
gives the right totals; a read model stuck behind one bad event would be wrong for every
event after it. A subscriber that needs each order's events strictly in order must not be
an after-commit subscriber (it belongs on the durable feed, docs/events.md section 8).
"""

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from orderwire.db.engine import is_postgres, read_only
from orderwire.faults import fault_point
from orderwire.logs import request_id_var
from orderwire.outbox.deliveries import store
from orderwire.outbox.deliveries.settled import settled_prefix
from orderwire.outbox.deliveries.store import Position, StoredEvent, error_text
from orderwire.outbox.deliveries.subscriptions import Subscription

log = logging.getLogger("orderwire.deliveries")


@dataclass(frozen=True)
class Backoff:
    """Seconds before the next attempt after `failures` failures: first, doubling, capped."""

    first: float = 1.0
    cap: float = 60.0

    def delay(self, failures: int) -> float:
        return min(self.first * 2 ** max(failures - 1, 0), self.cap)


class PositionMoved(Exception):
    """Another relay moved this subscriber's position meanwhile: leave the event to it."""


class SubscriberDelivery:
    def __init__(
        self,
        engine: Engine,
        subscriptions: Sequence[Subscription],
        *,
        max_attempts: int = 10,
        batch_size: int = 200,
        backoff: Backoff = Backoff(),
        # Longer than any command transaction may stay open (the task time limit, 90 s).
        gap_settle: timedelta = timedelta(seconds=120),
    ) -> None:
        self.engine = engine
        # Made once: read_only() builds a new engine view on each call (70 us).
        self.reader = read_only(engine)
        self.subscriptions = list(subscriptions)
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self.backoff = backoff
        self.gap_settle = gap_settle if is_postgres(engine) else None
        self._positions_created = False
        self._events_after = {
            subscription.name: store.EventsAfter(subscription.types)
            for subscription in self.subscriptions
        }

    def deliver(self) -> int:
        """One batch per subscriber; returns how many events were applied. A subscriber's
        failures never stop the others.

        The relay runs this every 0.2 s, so a round reads in one transaction: positions and
        the newest seq, then the events after each position that is behind it (idle: the
        one query). Moving a position over events its subscriber does not handle is, for
        all of them, one write transaction at the end."""
        if not self.subscriptions:
            return 0
        self._create_positions()
        with self.reader.connect() as connection, connection.begin():
            known, newest = store.positions_and_newest(connection)
            behind = [
                # a subscriber without a row (created by another relay a moment ago): next round
                (subscription, known[subscription.name])
                for subscription in self.subscriptions
                if subscription.name in known and known[subscription.name].position < newest
            ]
            batches = [
                self._events_after[subscription.name](
                    connection, position.position, self.batch_size
                )
                for subscription, position in behind
            ]
        applied, passed_over = 0, []
        for (subscription, position), (batch, now) in zip(behind, batches, strict=True):
            try:
                done, passed_to = self._deliver_batch(subscription, position, batch, now)
            except Exception:
                log.warning(
                    "delivering to %s failed; retrying", subscription.name, exc_info=True
                )
                continue
            applied += done
            if passed_to is not None:
                passed_over.append((subscription.name, *passed_to))
        if passed_over:
            with self.engine.connect() as connection, connection.begin():
                for name, from_, to in passed_over:
                    store.advance(connection, name, from_=from_, to=to)
        return applied

    def _create_positions(self) -> None:
        if self._positions_created:
            return
        try:
            with self.engine.connect() as connection, connection.begin():
                created = store.create_missing_positions(
                    connection, (subscription.name for subscription in self.subscriptions)
                )
        except IntegrityError:
            return  # another relay created them at the same moment: read them next round
        for name in created:
            log.info("subscriber %s starts at the oldest event", name,
                     extra={"event": "delivery.subscriber_added", "subscriber": name})
        self._positions_created = True

    def _deliver_batch(
        self,
        subscription: Subscription,
        position: Position,
        batch: list[StoredEvent],
        now: datetime | None,
    ) -> tuple[int, tuple[int, int] | None]:
        """Apply the subscriber's events of `batch` (read at `now`); returns how many were
        applied, and (from, to) when the position is to move past events it passed over."""
        if now is None:
            return 0, None  # none after all (pruned meanwhile)
        settled = batch[: settled_prefix(
            batch, after=position.position, now=now, gap_settle=self.gap_settle
        )]
        at, applied = position.position, 0
        for event in settled:
            if event.type not in subscription.types:
                continue
            if event.event_id == position.failing_event_id and _waiting(position, now):
                return applied, None
            try:
                self._apply(subscription, event, at)
            except PositionMoved:
                return applied, None
            except Exception as error:
                failures = position.failures_on(event.event_id) + 1
                if not self._failed(subscription, event, at, failures, error, now):
                    return applied, None
                at = event.seq  # parked: the subscriber goes on with the next event
                continue
            at, applied = event.seq, applied + 1
        if settled and settled[-1].seq > at:
            return applied, (at, settled[-1].seq)
        return applied, None

    def _apply(self, subscription: Subscription, event: StoredEvent, at: int) -> None:
        assert event.envelope is not None  # loaded for every type the subscriber handles
        envelope = json.loads(event.envelope)
        token = request_id_var.set(envelope.get("request_id"))
        try:
            with self.engine.connect() as connection, connection.begin():
                # First: on PostgreSQL this takes the position's row lock, so a second relay
                # waits here and then finds the position moved.
                if not store.advance(connection, subscription.name, from_=at, to=event.seq):
                    raise PositionMoved(subscription.name)
                fault_point("subscriber.before")
                subscription.handle(envelope, connection)
                fault_point("subscriber.after")
            log.info(
                "subscriber %s handled %s",
                subscription.name,
                event.type,
                extra={"event": "subscriber.handled", "event_id": event.event_id,
                       "subscriber": subscription.name},
            )
        finally:
            request_id_var.reset(token)

    def _failed(
        self,
        subscription: Subscription,
        event: StoredEvent,
        at: int,
        failures: int,
        error: Exception,
        now: datetime,
    ) -> bool:
        """Record the failure; True if the event was parked and the position moved past it."""
        details = {"event_id": event.event_id, "subscriber": subscription.name,
                   "failures": failures}
        if failures >= self.max_attempts:
            with self.engine.connect() as connection, connection.begin():
                parked = store.advance(connection, subscription.name, from_=at, to=event.seq)
                if parked:
                    store.park(connection, subscription.name, event, attempts=failures,
                               error=error_text(error))
            if parked:
                log.error(
                    "subscriber %s failed %d times on %s: parked", subscription.name, failures,
                    event.event_id, exc_info=error, extra={"event": "delivery.parked", **details},
                )
            return parked
        delay = self.backoff.delay(failures)
        with self.engine.connect() as connection, connection.begin():
            store.record_failure(
                connection, subscription.name, at=at, event_id=event.event_id,
                failures=failures, error=error_text(error),
                retry_at=now + timedelta(seconds=delay),
            )
        log.warning(
            "subscriber %s failed on %s; retrying in %g s", subscription.name, event.event_id,
            delay, exc_info=error, extra={"event": "delivery.failed", **details},
        )
        return False


def _waiting(position: Position, now: datetime) -> bool:
    return position.retry_at is not None and position.retry_at > now
