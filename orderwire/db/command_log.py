"""The command log: every accepted command, its status, attempts and outcome.

It is eShop's "requests table" done right: the row is inserted (never checked
then inserted), so two concurrent duplicates cannot both win; its status says
what happened; and a failed command keeps its request id and its error.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from orderwire.command_status import FINAL, UNFINISHED, CommandStatus
from orderwire.db.engine import utcnow
from orderwire.db.tables import commands

__all__ = ["FINAL", "UNFINISHED", "CommandStatus", "KeyReused", "NewCommand", "SqlCommandLog"]


@dataclass(frozen=True)
class NewCommand:
    request_id: str
    command: str
    payload: dict[str, Any]
    fingerprint: str
    session_id: str | None
    order_id: str | None


class KeyReused(Exception):
    """The request id is taken by a command with another endpoint or body."""


def record(connection: Connection, new: NewCommand) -> tuple[dict[str, Any], bool]:
    """Insert the command; return (row, created). An identical earlier command is returned as is.

    One `INSERT ... ON CONFLICT DO NOTHING RETURNING` statement: the row comes back if
    this insert made it, nothing if the request id was taken, and losing the race never
    aborts the caller's transaction (so no SAVEPOINT, no read-back).
    """
    now = utcnow()
    created = connection.execute(
        _INSERT_NEW[connection.dialect.name],
        {
            "request_id": new.request_id,
            "command": new.command,
            "payload": new.payload,
            "fingerprint": new.fingerprint,
            "session_id": new.session_id,
            "order_id": new.order_id,
            "status": CommandStatus.ACCEPTED,
            "attempts": 0,
            "accepted_at": now,
            "touched_at": now,
        },
    ).mappings().first()
    if created is not None:
        return dict(created), True
    existing = get(connection, new.request_id)
    if existing is None:  # pragma: no cover - the conflicting row cannot vanish
        raise RuntimeError(f"command {new.request_id} conflicted but is not there")
    if existing["fingerprint"] != new.fingerprint:
        raise KeyReused(new.request_id)
    return existing, False


# The hot statements are built once: building one per call cost several times what running
# it does (docs/benchmarks.md). ON CONFLICT is dialect syntax, so there is one per database.
_INSERT_NEW = {
    dialect: insert(commands).on_conflict_do_nothing(index_elements=["request_id"]).returning(
        *commands.c
    )
    for dialect, insert in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert))
}
GET = select(commands).where(commands.c.request_id == bindparam("request_id"))
GET_LOCKED = GET.with_for_update()


def get(connection: Connection, request_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    row = connection.execute(GET_LOCKED if lock else GET, {"request_id": request_id})
    found = row.mappings().first()
    return dict(found) if found else None


_UNFINISHED_ROW = (commands.c.request_id == bindparam("the_request_id")) & commands.c.status.in_(
    UNFINISHED
)
START = (
    update(commands)
    .where(_UNFINISHED_ROW)
    .values(
        status=CommandStatus.RUNNING, attempts=bindparam("attempts"), touched_at=bindparam("now")
    )
)
_FINISH_VALUES = {
    "status": bindparam("new_status"),
    "result": bindparam("new_result", type_=commands.c.result.type),
    "error": bindparam("new_error", type_=commands.c.error.type),
    "finished_at": bindparam("now"),
    "touched_at": bindparam("now"),
}
FINISH = update(commands).where(_UNFINISHED_ROW).values(**_FINISH_VALUES)
# A verdict written after the attempt's own transaction rolled back records its count too.
FINISH_COUNTED = (
    update(commands)
    .where(_UNFINISHED_ROW)
    .values(**_FINISH_VALUES, attempts=bindparam("attempts"))
)


class SqlCommandLog:
    """The command log as a unit of work sees it: the rows of this transaction's commands."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def lock(self, request_id: str) -> dict[str, Any] | None:
        """The command's row, locked until the unit of work ends (None if there is none).
        Two deliveries of one command serialise here."""
        return get(self.connection, request_id, lock=True)

    def start(self, request_id: str, attempts: int) -> None:
        """Mark the locked, unfinished command running on its `attempts`-th attempt."""
        self.connection.execute(
            START, {"the_request_id": request_id, "attempts": attempts, "now": utcnow()}
        )

    def finish(
        self,
        request_id: str,
        status: CommandStatus,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        attempts: int | None = None,
    ) -> bool:
        """Move an unfinished command to a final status (and, if given, set its attempt
        count); False if it was already final."""
        assert status in FINAL
        values = {
            "the_request_id": request_id,
            "new_status": status,
            "new_result": result,
            "new_error": error,
            "now": utcnow(),
        }
        if attempts is None:
            changed = self.connection.execute(FINISH, values)
        else:
            changed = self.connection.execute(FINISH_COUNTED, {**values, "attempts": attempts})
        return changed.rowcount == 1


def touch(connection: Connection, request_ids: list[str]) -> None:
    if request_ids:
        connection.execute(
            update(commands)
            .where(commands.c.request_id.in_(request_ids))
            .values(touched_at=utcnow())
        )


def stale(
    connection: Connection,
    *,
    accepted_before: datetime,
    running_before: datetime,
    limit: int,
    skip_locked: bool,
) -> list[tuple[str, str]]:
    """Unfinished commands nobody has touched for a while: (request_id, command) pairs."""
    query = (
        select(commands.c.request_id, commands.c.command)
        .where(
            (
                (commands.c.status == CommandStatus.ACCEPTED)
                & (commands.c.touched_at < accepted_before)
            )
            | (
                (commands.c.status == CommandStatus.RUNNING)
                & (commands.c.touched_at < running_before)
            )
        )
        .order_by(commands.c.touched_at)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return [(row.request_id, row.command) for row in connection.execute(query)]
