"""State the metrics endpoint reads from the database at scrape time.

Only what is still in progress is counted (unfinished commands, unpublished
events): both use an index and stay small however long the system has run,
so a scrape costs the same on day 1 and day 1000.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, func, select

from orderwire.db.command_log import UNFINISHED
from orderwire.db.tables import commands, events


@dataclass(frozen=True)
class OutboxBacklog:
    events: int  # committed, not yet published
    oldest: datetime | None  # when the oldest of them was committed


def unfinished_commands(connection: Connection) -> dict[tuple[str, str], int]:
    """{(command, status): how many} for commands still accepted or running."""
    query = (
        select(commands.c.command, commands.c.status, func.count())
        .where(commands.c.status.in_(UNFINISHED))  # ix_commands_status_touched_at
        .group_by(commands.c.command, commands.c.status)
    )
    return {(command, status): count for command, status, count in connection.execute(query)}


def outbox_backlog(connection: Connection) -> OutboxBacklog:
    count, oldest = connection.execute(
        select(func.count(), func.min(events.c.occurred_at)).where(events.c.published_at.is_(None))
    ).one()
    if isinstance(oldest, str):  # SQLite hands MIN() of a datetime column back as text
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)  # orderwire stores UTC only
    return OutboxBacklog(count, oldest)
