"""The transactional outbox: events are written with the command, published after commit.

The *fast path* publishes a command's own events right after its commit, from memory;
the *relay* marks them published in batches (from the ids the publishing script lists)
and publishes whatever is left (Redis was down, a process died, an earlier event of the
same order was waiting). The relay does not follow "seq greater than the last one I
saw": seq is assigned before commit, so a transaction that commits late would be
skipped. It looks for `published_at IS NULL` instead.
"""

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from domain.events import Event
from orderwire.db.clock import database_now, database_time_ago
from orderwire.db.engine import utcnow
from orderwire.db.prepared import OnDriver, Prepared
from orderwire.db.tables import events
from orderwire.outbox.envelope import dumps, make_envelope


@dataclass(frozen=True)
class OutboxEvent:
    event_id: str
    type: str
    aggregate_id: str
    audience: tuple[str, ...]
    envelope: str
    request_id: str | None = None
    aggregate_version: int = 0  # 0: unknown (then publishing cannot keep the order's order)


# Statements on the hot path are built once: building one per call (and its cache key)
# cost more of a worker's CPU than running it (docs/benchmarks.md, "What was changed").
# occurred_at on the database's clock: the relay's grace and the subscribers' gap rule
# (orderwire/outbox/deliveries/settled.py) compare it with the database's "now"
# (orderwire/db/clock.py). The envelope keeps the worker's own reading, for people.
INSERT_EVENT = Prepared(events.insert().values(occurred_at=database_now()))
# The relay runs the next two every round (0.2 s), busy or idle: through Prepared they
# cost the statement, not SQLAlchemy's per-call execution machinery (orderwire/db/prepared.py).
# One row per event id, in one executemany: Prepared takes no expanding IN list.
MARK_PUBLISHED = Prepared(
    update(events)
    .where(events.c.event_id == bindparam("marked_id"), events.c.published_at.is_(None))
    .values(published_at=bindparam("published_at"))
)


class SqlOutbox:
    """The outbox as a unit of work sees it: events appended in its transaction, in order."""

    def __init__(self, connection: OnDriver) -> None:
        self.connection = connection
        self.appended: list[OutboxEvent] = []

    def append(
        self,
        event: Event,
        *,
        aggregate_id: str,
        aggregate_version: int,
        request_id: str | None,
        audience: Iterable[str],
    ) -> OutboxEvent:
        """Insert one event now (it takes its place in the seq order at once)."""
        [stored] = self.append_all(
            [(event, aggregate_id, aggregate_version)], request_id=request_id, audience=audience
        )
        return stored

    def append_all(
        self,
        recorded: Iterable[tuple[Event, str, int]],
        *,
        request_id: str | None,
        audience: Iterable[str],
    ) -> list[OutboxEvent]:
        """Insert the (event, aggregate id, aggregate version) of one command, in their order,
        in one statement (an executemany: one call into the driver instead of one per event)."""
        audience = tuple(sorted(set(audience)))
        occurred_at = utcnow()
        stored = [
            self._envelope(event, aggregate_id, version, request_id, audience, occurred_at)
            for event, aggregate_id, version in recorded
        ]
        if stored:
            INSERT_EVENT.executemany(
                self.connection,
                [
                    {
                        "event_id": item.event_id,
                        "type": item.type,
                        "aggregate_id": item.aggregate_id,
                        "aggregate_version": item.aggregate_version,
                        "request_id": item.request_id,
                        "audience": list(audience),
                        "envelope": item.envelope,
                    }
                    for item in stored
                ],
            )
        self.appended.extend(stored)
        return stored

    @staticmethod
    def _envelope(
        event: Event,
        aggregate_id: str,
        aggregate_version: int,
        request_id: str | None,
        audience: tuple[str, ...],
        occurred_at: datetime,
    ) -> OutboxEvent:
        event_id = str(uuid.uuid4())
        envelope = dumps(
            make_envelope(
                event_id=event_id,
                event_type=event.name,
                occurred_at=occurred_at,
                request_id=request_id,
                aggregate_id=aggregate_id,
                aggregate_version=aggregate_version,
                data=event.data(),
            )
        )
        return OutboxEvent(
            event_id, event.name, aggregate_id, audience, envelope, request_id, aggregate_version
        )


def _as_outbox_event(row: Mapping[str, Any]) -> OutboxEvent:
    audience = row["audience"]
    if not isinstance(audience, list):
        audience = json.loads(audience)
    return OutboxEvent(
        row["event_id"], row["type"], row["aggregate_id"], tuple(audience), row["envelope"],
        row["request_id"], row["aggregate_version"],
    )


_COLUMNS = (
    events.c.event_id,
    events.c.type,
    events.c.aggregate_id,
    events.c.audience,
    events.c.envelope,
    events.c.request_id,
    events.c.aggregate_version,
)


# "Older than the grace" on the database's clock, inside the query: no database_time()
# round trip before it. The partial index ix_events_unpublished keeps it cheap when idle.
CLAIM_UNPUBLISHED = Prepared(
    select(*_COLUMNS)
    .where(events.c.published_at.is_(None), events.c.occurred_at < database_time_ago("grace"))
    .order_by(events.c.seq)
    .limit(bindparam("claim_limit"))
    .with_for_update()
)


def claim_unpublished(
    connection: Connection, *, grace: timedelta, limit: int
) -> list[OutboxEvent]:
    """The relay's share, oldest first: unpublished events that occurred more than `grace`
    ago by the database's clock. It waits for rows a fast path holds, then sees them
    published and leaves them (PostgreSQL re-checks the WHERE clause of locked rows)."""
    rows = CLAIM_UNPUBLISHED.all(
        connection, {"grace": grace.total_seconds(), "claim_limit": limit}
    )
    return [_as_outbox_event(row) for row in rows]


def mark_published(connection: Connection, event_ids: list[str]) -> None:
    if event_ids:
        published_at = utcnow()
        MARK_PUBLISHED.executemany(
            connection,
            [{"marked_id": event_id, "published_at": published_at} for event_id in event_ids],
        )


def load(connection: Connection, event_id: str) -> dict | None:
    row = connection.execute(
        select(events.c.envelope).where(events.c.event_id == event_id)
    ).scalar_one_or_none()
    return json.loads(row) if row else None
