"""Retention: published events and finished commands older than the retention period are
deleted, by the relay, in small batches, so that what a command costs does not grow with
history and no batch holds the write lock for long.

What goes: outbox events published before the cutoff (with the `handled_events` rows of
their after-commit deliveries), and commands that finished before it (their idempotency
record: a key replayed after the retention period is a new command). What stays: events
not yet published and unfinished commands, whatever their age, and the orders, which are
state, not history.
"""

import time
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, delete, select

from orderwire.command_status import FINAL
from orderwire.db.engine import utcnow
from orderwire.db.tables import commands, events, handled_events

_OLD_EVENTS = (
    select(events.c.seq, events.c.event_id)
    .where(events.c.published_at.is_not(None), events.c.published_at < bindparam("cutoff"))
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
        batch_size: int = 500,
        max_batches: int = 20,
        pause: float = 0.01,
    ) -> None:
        self.engine = engine
        self.keep = keep
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
            rows = connection.execute(
                _OLD_EVENTS, {"cutoff": cutoff, "batch": self.batch_size}
            ).all()
            if not rows:
                return 0
            connection.execute(
                delete(handled_events).where(
                    handled_events.c.event_id.in_([row.event_id for row in rows])
                )
            )
            connection.execute(delete(events).where(events.c.seq.in_([row.seq for row in rows])))
        return len(rows)

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
