"""The statements of subscriber delivery: positions, the events after them, parked deliveries.

Every change to a position names the position it expects (`WHERE position = :from`): the
first statement of an apply transaction, so on PostgreSQL a second relay waits for the
first one's row lock and then finds the position moved, changes nothing and rolls back;
on SQLite there is one writer anyway. So a delivery is applied at most once.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)

from orderwire.db.clock import database_now
from orderwire.db.prepared import Prepared
from orderwire.db.tables import (
    discarded_deliveries,
    events,
    parked_deliveries,
    subscriber_positions,
)

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


@dataclass(frozen=True)
class Discarded:
    subscriber: str
    event_id: str
    seq: int
    type: str | None
    attempts: int
    last_error: str
    parked_at: datetime
    discarded_at: datetime
    reason: str


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


_POSITION_COLUMNS = (
    subscriber_positions.c.subscriber,
    subscriber_positions.c.position,
    subscriber_positions.c.failing_event_id,
    subscriber_positions.c.failures,
    subscriber_positions.c.last_error,
    subscriber_positions.c.retry_at,
)
# The relay reads these every 0.2 s, busy or idle: through Prepared they cost the statement,
# not SQLAlchemy's per-call execution machinery (orderwire/db/prepared.py). The newest seq
# comes along, so that an idle round is this one query: a subscriber at or past it has
# nothing to read (max(seq) is one step down the primary key's index).
_POSITIONS_AND_NEWEST = Prepared(
    select(
        *_POSITION_COLUMNS,
        select(func.max(events.c.seq)).scalar_subquery().label("newest_seq"),
    )
)
# Every change to a position goes through this one.
_ADVANCE = Prepared(
    update(subscriber_positions)
    .where(
        subscriber_positions.c.subscriber == bindparam("advanced"),
        subscriber_positions.c.position == bindparam("from_position"),
    )
    .values(
        position=bindparam("to_position"), failing_event_id=None, failures=0, last_error=None,
        retry_at=None, updated_at=database_now(),
    )
)


def _position(row: Any) -> Position:
    return Position(
        row["subscriber"], row["position"], row["failing_event_id"], row["failures"],
        row["last_error"], aware(row["retry_at"]),
    )


def positions(connection: Connection) -> dict[str, Position]:
    return {
        row.subscriber: _position(row._mapping)
        for row in connection.execute(select(*_POSITION_COLUMNS))
    }


def positions_and_newest(connection: Connection) -> tuple[dict[str, Position], int]:
    """Every subscriber's position, and the newest event's seq (0 when there is none)."""
    rows = _POSITIONS_AND_NEWEST.all(connection, {})
    newest = next((row["newest_seq"] for row in rows if row["newest_seq"] is not None), 0)
    return {row["subscriber"]: _position(row) for row in rows}, newest


class EventsAfter:
    """The next `limit` events after a position, in seq order, of every type (a position
    moves over all of them), with the envelope only for `types` (the subscriber's), each
    with the database's time (read in the same statement: no round trip of its own)."""

    def __init__(self, types: Collection[str]) -> None:
        # The types are written into the statement (Prepared takes no expanding IN list):
        # one statement per subscriber, compiled once.
        self._query = Prepared(
            select(
                events.c.seq,
                events.c.event_id,
                events.c.type,
                events.c.occurred_at,
                case(
                    (events.c.type.in_([literal(name) for name in sorted(types)]),
                     events.c.envelope),
                    else_=None,
                ).label("envelope"),
                database_now().label("now"),
            )
            .where(events.c.seq > bindparam("after_seq"))
            .order_by(events.c.seq)
            .limit(bindparam("batch_limit"))
        )

    def __call__(
        self, connection: Connection, position: int, limit: int
    ) -> tuple[list[StoredEvent], datetime | None]:
        """The events, and the database's time as the first was read (None: no events)."""
        rows = self._query.all(connection, {"after_seq": position, "batch_limit": limit})
        batch = [
            StoredEvent(row["seq"], row["event_id"], row["type"], row["occurred_at"],
                        row["envelope"])
            for row in rows
        ]
        return batch, aware(rows[0]["now"]) if rows else None


def advance(connection: Connection, subscriber: str, *, from_: int, to: int) -> bool:
    """Move the position from `from_` to `to` and forget the failures; False if it was not
    at `from_` any more (another relay moved it)."""
    moved = _ADVANCE.execute(
        connection, {"advanced": subscriber, "from_position": from_, "to_position": to}
    )
    return moved == 1


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


def discard(connection: Connection, subscriber: str, event_id: str, reason: str) -> bool:
    """Move a parked delivery to the discarded ones, with the reason; False if it was not
    parked (any more). The DELETE comes first: on PostgreSQL a second operator's discard
    waits for its row lock and then finds nothing, so a delivery is discarded once."""
    found = connection.execute(
        delete(parked_deliveries)
        .where(
            parked_deliveries.c.subscriber == subscriber, parked_deliveries.c.event_id == event_id
        )
        .returning(
            parked_deliveries.c.seq, parked_deliveries.c.attempts,
            parked_deliveries.c.last_error, parked_deliveries.c.parked_at,
        )
    ).first()
    if found is None:
        return False
    event_type = connection.execute(
        select(events.c.type).where(events.c.event_id == event_id)
    ).scalar_one_or_none()
    connection.execute(
        insert(discarded_deliveries).values(
            subscriber=subscriber, event_id=event_id, seq=found.seq, type=event_type,
            attempts=found.attempts, last_error=found.last_error, parked_at=found.parked_at,
            discarded_at=database_now(), reason=reason,
        )
    )
    return True


def discarded(connection: Connection, *, subscriber: str | None = None) -> list[Discarded]:
    query = select(discarded_deliveries).order_by(
        discarded_deliveries.c.seq, discarded_deliveries.c.subscriber
    )
    if subscriber is not None:
        query = query.where(discarded_deliveries.c.subscriber == subscriber)
    return [
        Discarded(
            row.subscriber, row.event_id, row.seq, row.type, row.attempts, row.last_error,
            aware(row.parked_at), aware(row.discarded_at), row.reason,  # type: ignore[arg-type]
        )
        for row in connection.execute(query)
    ]


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


def counts_by_subscriber(connection: Connection, table: Table) -> dict[str, int]:
    """How many rows of `parked_deliveries` or `discarded_deliveries` each subscriber has."""
    rows = connection.execute(
        select(table.c.subscriber, func.count()).group_by(table.c.subscriber)
    )
    return {subscriber: count for subscriber, count in rows}
