"""The statements of subscriber delivery: positions, the events after them, parked deliveries.

Every change to a position names the position it expects (`WHERE position = :from`): the
first statement of an apply transaction, so on PostgreSQL a second relay waits for the
first one's row lock and then finds the position moved, changes nothing and rolls back;
on SQLite there is one writer anyway. So a delivery is applied at most once.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, case, delete, func, insert, select, update

from orderwire.db.clock import database_now
from orderwire.db.tables import events, parked_deliveries, subscriber_positions

MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True)
class Position:
    subscriber: str
    position: int
    failing_event_id: str | None = None
    failures: int = 0
    last_error: str | None = None
    retry_at: datetime | None = None

    def failures_on(self, event_id: str) -> int:
        """How often this subscriber already failed on that event (0 unless it is the one
        it keeps failing on)."""
        return self.failures if self.failing_event_id == event_id else 0


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    event_id: str
    type: str
    occurred_at: datetime
    envelope: str | None  # only for the types the subscriber handles


@dataclass(frozen=True)
class Parked:
    subscriber: str
    event_id: str
    seq: int
    type: str | None  # None once the event is gone (it is kept while parked)
    attempts: int
    last_error: str
    parked_at: datetime


def error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:MAX_ERROR_LENGTH]


def aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; orderwire only ever stores UTC.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def create_missing_positions(connection: Connection, names: Iterable[str]) -> list[str]:
    """Rows at position 0 for subscribers that have none yet (a new subscriber starts
    from the oldest event the outbox still holds); returns their names."""
    known = set(connection.execute(select(subscriber_positions.c.subscriber)).scalars())
    missing = sorted(set(names) - known)
    if missing:
        connection.execute(
            insert(subscriber_positions).values(position=0, failures=0, updated_at=database_now()),
            [{"subscriber": name} for name in missing],
        )
    return missing


def positions(connection: Connection) -> dict[str, Position]:
    rows = connection.execute(
        select(
            subscriber_positions.c.subscriber,
            subscriber_positions.c.position,
            subscriber_positions.c.failing_event_id,
            subscriber_positions.c.failures,
            subscriber_positions.c.last_error,
            subscriber_positions.c.retry_at,
        )
    )
    return {
        row.subscriber: Position(
            row.subscriber, row.position, row.failing_event_id, row.failures, row.last_error,
            aware(row.retry_at),
        )
        for row in rows
    }


def events_after(
    connection: Connection, position: int, types: Collection[str], limit: int
) -> list[StoredEvent]:
    """The next `limit` events after `position`, in seq order, of every type (a position
    moves over all of them), with the envelope only where the subscriber needs it."""
    rows = connection.execute(
        select(
            events.c.seq,
            events.c.event_id,
            events.c.type,
            events.c.occurred_at,
            case((events.c.type.in_(sorted(types)), events.c.envelope), else_=None),
        )
        .where(events.c.seq > position)
        .order_by(events.c.seq)
        .limit(limit)
    )
    return [StoredEvent(*row) for row in rows]


def advance(connection: Connection, subscriber: str, *, from_: int, to: int) -> bool:
    """Move the position from `from_` to `to` and forget the failures; False if it was not
    at `from_` any more (another relay moved it)."""
    moved = connection.execute(
        update(subscriber_positions)
        .where(
            subscriber_positions.c.subscriber == subscriber,
            subscriber_positions.c.position == from_,
        )
        .values(
            position=to, failing_event_id=None, failures=0, last_error=None, retry_at=None,
            updated_at=database_now(),
        )
    )
    return moved.rowcount == 1


def record_failure(
    connection: Connection,
    subscriber: str,
    *,
    at: int,
    event_id: str,
    failures: int,
    error: str,
    retry_at: datetime,
) -> None:
    connection.execute(
        update(subscriber_positions)
        .where(
            subscriber_positions.c.subscriber == subscriber,
            subscriber_positions.c.position == at,
        )
        .values(
            failing_event_id=event_id, failures=failures, last_error=error, retry_at=retry_at,
            updated_at=database_now(),
        )
    )


def park(
    connection: Connection, subscriber: str, event: StoredEvent, *, attempts: int, error: str
) -> None:
    connection.execute(
        insert(parked_deliveries).values(
            subscriber=subscriber, event_id=event.event_id, seq=event.seq, attempts=attempts,
            last_error=error, parked_at=database_now(),
        )
    )


def parked(
    connection: Connection, *, subscriber: str | None = None, event_id: str | None = None
) -> list[Parked]:
    query = (
        select(
            parked_deliveries.c.subscriber,
            parked_deliveries.c.event_id,
            parked_deliveries.c.seq,
            events.c.type,
            parked_deliveries.c.attempts,
            parked_deliveries.c.last_error,
            parked_deliveries.c.parked_at,
        )
        .select_from(
            parked_deliveries.outerjoin(events, events.c.event_id == parked_deliveries.c.event_id)
        )
        .order_by(parked_deliveries.c.seq, parked_deliveries.c.subscriber)
    )
    if subscriber is not None:
        query = query.where(parked_deliveries.c.subscriber == subscriber)
    if event_id is not None:
        query = query.where(parked_deliveries.c.event_id == event_id)
    return [
        Parked(row[0], row[1], row[2], row[3], row[4], row[5], aware(row[6]))  # type: ignore[arg-type]
        for row in connection.execute(query)
    ]


def unpark(connection: Connection, subscriber: str, event_id: str) -> bool:
    """Remove a parked delivery; False if it was not parked (any more)."""
    removed = connection.execute(
        delete(parked_deliveries).where(
            parked_deliveries.c.subscriber == subscriber, parked_deliveries.c.event_id == event_id
        )
    )
    return removed.rowcount == 1


def record_redrive_failure(
    connection: Connection, subscriber: str, event_id: str, error: str
) -> None:
    connection.execute(
        update(parked_deliveries)
        .where(
            parked_deliveries.c.subscriber == subscriber, parked_deliveries.c.event_id == event_id
        )
        .values(attempts=parked_deliveries.c.attempts + 1, last_error=error)
    )


def load_envelope(connection: Connection, event_id: str) -> str | None:
    return connection.execute(
        select(events.c.envelope).where(events.c.event_id == event_id)
    ).scalar_one_or_none()


def lag(connection: Connection, position: int, types: Collection[str]) -> int:
    """Events of these types after the position: what the subscriber still has to handle."""
    return connection.execute(
        select(func.count())
        .select_from(events)
        .where(events.c.seq > position, events.c.type.in_(sorted(types)))
    ).scalar_one()


def parked_counts(connection: Connection) -> dict[str, int]:
    rows = connection.execute(
        select(parked_deliveries.c.subscriber, func.count()).group_by(
            parked_deliveries.c.subscriber
        )
    )
    return {subscriber: count for subscriber, count in rows}
