"""Retention: published events and finished commands older than the retention period are
deleted, by the relay, in small batches, so that what a command costs does not grow with
history and no batch holds the write lock for long.

What goes: outbox events published before the cutoff, and commands that finished before
it (their idempotency record: a key replayed after the retention period is a new command).
What stays, whatever its age: events not yet published; events an after-commit subscriber
has not passed yet (at or after the lowest position: the event at a position is kept too,
so SQLite, which hands out max(seq) + 1, never gives a seq out again) and events parked
for a subscriber (an operator may re-drive them); unfinished commands; and the orders,
which are state, not history.
"""

import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, delete, exists, select

from orderwire.command_status import FINAL
from orderwire.db.engine import utcnow
from orderwire.db.tables import commands, events, parked_deliveries, subscriber_positions

_OLD_EVENTS = (
    select(events.c.seq)
    .where(
        events.c.published_at.is_not(None),
        events.c.published_at < bindparam("cutoff"),
        ~exists().where(parked_deliveries.c.event_id == events.c.event_id),
    )
    .order_by(events.c.seq)  # oldest first: the scan stops after one batch
    .limit(bindparam("batch"))
)
_OLD_COMMANDS = (
    select(commands.c.command_id)  # the key: a request id is unique only within its session
    # (status, touched_at) is indexed, and a finished command was last touched when it finished.
    .where(commands.c.status.in_(sorted(FINAL)), commands.c.touched_at < bindparam("cutoff"))
    .limit(bindparam("batch"))
)


class Retention:
    def __init__(
        self,
        engine: Engine,
        *,
        keep: timedelta,
        subscribers: Sequence[str] = (),
        batch_size: int = 500,
        max_batches: int = 20,
        pause: float = 0.01,
    ) -> None:
        self.engine = engine
        self.keep = keep
        self.subscribers = list(subscribers)  # after-commit subscribers, by name
        self.batch_size = batch_size
        # Between batches, so writers waiting for SQLite's one lock get it first.
        self.pause = pause
        # Per run, so one run cannot keep the relay from its other jobs for long.
        self.max_batches = max_batches

    def prune(self, now: datetime | None = None) -> int:
        """Delete up to `max_batches` batches of expired rows; returns how many rows went."""
        cutoff = (now or utcnow()) - self.keep
        deleted = 0
        for _ in range(self.max_batches):
            batch = self._prune_events(cutoff) + self._prune_commands(cutoff)
            deleted += batch
            if batch == 0:
                break
            time.sleep(self.pause)
        return deleted

    def _prune_events(self, cutoff: datetime) -> int:
        with self.engine.connect() as connection, connection.begin():
            below = self._lowest_position(connection)
            query = _OLD_EVENTS if below is None else _OLD_EVENTS.where(events.c.seq < below)
            seqs = list(
                connection.execute(query, {"cutoff": cutoff, "batch": self.batch_size}).scalars()
            )
            if seqs:
                connection.execute(delete(events).where(events.c.seq.in_(seqs)))
        return len(seqs)

    def _lowest_position(self, connection: Connection) -> int | None:
        """Events from this seq on stay (None: no subscriber holds any back). A subscriber
        without a row yet is at 0: the relay starts it from the oldest event."""
        if not self.subscribers:
            return None
        found = dict(
            connection.execute(
                select(subscriber_positions.c.subscriber, subscriber_positions.c.position).where(
                    subscriber_positions.c.subscriber.in_(self.subscribers)
                )
            ).all()
        )
        return min(found.get(name, 0) for name in self.subscribers)

    def _prune_commands(self, cutoff: datetime) -> int:
        with self.engine.connect() as connection, connection.begin():
            command_ids = list(
                connection.execute(
                    _OLD_COMMANDS, {"cutoff": cutoff, "batch": self.batch_size}
                ).scalars()
            )
            if command_ids:
                connection.execute(
                    delete(commands).where(commands.c.command_id.in_(command_ids))
                )
        return len(command_ids)
