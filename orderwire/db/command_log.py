"""The command log: every accepted command, its status, attempts and outcome.

It is eShop's "requests table" done right: the row is inserted (never checked
then inserted), so two concurrent duplicates cannot both win; its status says
what happened; and a failed command keeps its request id and its error.

A request id (the client's Idempotency-Key) is unique only within its session, so
the row's key is the *command id*, derived from both (`command_id`): two sessions
using one key make two commands, and a session can only ever name its own.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from orderwire.command_status import FINAL, UNFINISHED, CommandStatus
from orderwire.db.clock import database_now
from orderwire.db.prepared import OnDriver, Prepared
from orderwire.db.tables import commands

__all__ = ["FINAL", "UNFINISHED", "CommandStatus", "KeyReused", "NewCommand", "SqlCommandLog"]


# Fixed forever: changing it would orphan every stored command id.
COMMAND_ID_NAMESPACE = uuid.UUID("5f0c2a52-7a1e-4c36-9d0b-4f3f7d2f9a11")


def command_id(session_id: str | None, request_id: str) -> str:
    """The command log's key for a request id sent by a session (a UUID, derived, so the
    web finds a session's command without a second lookup and cannot find another's)."""
    return str(uuid.uuid5(COMMAND_ID_NAMESPACE, f"{session_id or ''}\n{request_id}"))


@dataclass(frozen=True)
class NewCommand:
    request_id: str
    command: str
    payload: dict[str, Any]
    fingerprint: str
    session_id: str | None
    order_id: str | None

    @property
    def command_id(self) -> str:
        return command_id(self.session_id, self.request_id)


class KeyReused(Exception):
    """The request id is taken by a command with another endpoint or body."""


def record(connection: OnDriver, new: NewCommand) -> tuple[dict[str, Any], bool]:
    """Insert the command; return (row, created). An identical earlier command is returned as is.

    One `INSERT ... ON CONFLICT DO NOTHING RETURNING` statement: the row comes back if
    this insert made it, nothing if the request id was taken, and losing the race never
    aborts the caller's transaction (so no SAVEPOINT, no read-back).
    """
    created = _INSERT_NEW[connection.dialect.name].first(
        connection,
        {
            "command_id": new.command_id,
            "request_id": new.request_id,
            "command": new.command,
            "payload": new.payload,
            "fingerprint": new.fingerprint,
            "session_id": new.session_id,
            "order_id": new.order_id,
            "status": CommandStatus.ACCEPTED,
            "attempts": 0,
        },
    )
    if created is not None:
        return dict(created), True
    existing = get(connection, new.command_id)
    if existing is None:  # pragma: no cover - the conflicting row cannot vanish
        raise RuntimeError(f"command {new.command_id} conflicted but is not there")
    if existing["fingerprint"] != new.fingerprint:
        raise KeyReused(new.request_id)
    return existing, False


# The hot statements are built once and run prepared (orderwire/db/prepared.py): building one
# per call, or SQLAlchemy's execution context per call, cost several times what running it
# does (docs/benchmarks.md). ON CONFLICT is dialect syntax, so there is one per database.
_INSERT_NEW = {
    dialect: Prepared(
        insert(commands)
        # The database's clock, not this host's: the sweeper compares these
        # (orderwire/db/clock.py).
        .values(accepted_at=database_now(), touched_at=database_now())
        .on_conflict_do_nothing(index_elements=["command_id"])
        .returning(*commands.c)
    )
    for dialect, insert in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert))
}
_GET = select(commands).where(commands.c.command_id == bindparam("command_id"))
GET = Prepared(_GET)
GET_LOCKED = Prepared(_GET.with_for_update())


def get(connection: OnDriver, command_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    return (GET_LOCKED if lock else GET).first(connection, {"command_id": command_id})


# The statuses as literal values, not an expanding list: the statement is then complete
# SQL once compiled, which orderwire/db/prepared.py needs.
_UNFINISHED_ROW = (commands.c.command_id == bindparam("the_command_id")) & commands.c.status.in_(
    [literal(status) for status in UNFINISHED]
)
START = Prepared(
    update(commands)
    .where(_UNFINISHED_ROW)
    .values(
        status=CommandStatus.RUNNING, attempts=bindparam("attempts"), touched_at=database_now()
    )
)
_FINISH_VALUES = {
    "status": bindparam("new_status"),
    "result": bindparam("new_result", type_=commands.c.result.type),
    "error": bindparam("new_error", type_=commands.c.error.type),
    # The database's clock, not this host's: the sweeper compares these (orderwire/db/clock.py).
    "finished_at": database_now(),
    "touched_at": database_now(),
}
FINISH = Prepared(update(commands).where(_UNFINISHED_ROW).values(**_FINISH_VALUES))
# A verdict written after the attempt's own transaction rolled back records its count too.
FINISH_COUNTED = Prepared(
    update(commands)
    .where(_UNFINISHED_ROW)
    .values(**_FINISH_VALUES, attempts=bindparam("attempts"))
)


class SqlCommandLog:
    """The command log as a unit of work sees it: the rows of this transaction's commands."""

    def __init__(self, connection: OnDriver) -> None:
        self.connection = connection

    def lock(self, command_id: str) -> dict[str, Any] | None:
        """The command's row, locked until the unit of work ends (None if there is none).
        Two deliveries of one command serialise here."""
        return get(self.connection, command_id, lock=True)

    def start(self, command_id: str, attempts: int) -> None:
        """Mark the locked, unfinished command running on its `attempts`-th attempt."""
        START.execute(self.connection, {"the_command_id": command_id, "attempts": attempts})

    def finish(
        self,
        command_id: str,
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
            "the_command_id": command_id,
            "new_status": status,
            "new_result": result,
            "new_error": error,
        }
        if attempts is None:
            changed = FINISH.execute(self.connection, values)
        else:
            changed = FINISH_COUNTED.execute(self.connection, {**values, "attempts": attempts})
        return changed == 1


def touch(connection: Connection, command_ids: list[str]) -> None:
    if command_ids:
        connection.execute(
            update(commands)
            .where(commands.c.command_id.in_(command_ids))
            .values(touched_at=database_now())
        )


def stale(
    connection: Connection,
    *,
    accepted_before: datetime,
    running_before: datetime,
    limit: int,
    skip_locked: bool,
) -> list[tuple[str, str, str]]:
    """Unfinished commands nobody has touched for a while: (command_id, request_id, command)."""
    query = (
        select(commands.c.command_id, commands.c.request_id, commands.c.command)
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
    return [
        (row.command_id, row.request_id, row.command) for row in connection.execute(query)
    ]


RENEW_LEASES = (
    update(commands)
    .where(
        commands.c.command_id.in_(bindparam("command_ids", expanding=True)),
        commands.c.status == CommandStatus.RUNNING,
    )
    .values(touched_at=database_now())
)


def renew_leases(connection: Connection, command_ids: list[str]) -> None:
    """A live worker still holds these running commands (orderwire/pipeline/lease.py)."""
    connection.execute(RENEW_LEASES, {"command_ids": command_ids})
