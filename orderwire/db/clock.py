"""One clock for every host: the database's.

Decisions that compare a timestamp written on one host with "now" on another (is this
command stale? is this event old enough for the relay, or too old to re-deliver?) go
wrong by however far the two hosts' clocks disagree: a relay 45 s ahead re-enqueued
commands 8 s old. So the timestamps those decisions read are written with the
database's clock (`database_now()` inside the statement, no extra round trip), and the
deciding process asks the database what time it is (`database_time`).

PostgreSQL: `statement_timestamp()`, the server's clock. SQLite lives on one host, whose
clock is the database's; the expression yields the text SQLAlchemy itself stores
(`YYYY-MM-DD HH:MM:SS.ffffff`), so stored values still compare and read back alike.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Float, bindparam, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class database_now(FunctionElement):
    """The database's current time, as a SQL expression."""

    type = DateTime(timezone=True)
    inherit_cache = True


@compiles(database_now)
def _postgres_now(_element: database_now, _compiler: object, **_kw: object) -> str:
    return "statement_timestamp()"


@compiles(database_now, "sqlite")
def _sqlite_now(_element: database_now, _compiler: object, **_kw: object) -> str:
    # %f is seconds with milliseconds (SS.SSS); three zeros make SQLAlchemy's microseconds.
    return "(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000')"


class database_time_ago(FunctionElement):
    """The database's current time minus `seconds` (a bound parameter of that name), as a
    SQL expression: a query that compares with "now minus a grace" then needs no
    `database_time()` round trip before it (the relay's claim does this every 0.2 s)."""

    type = DateTime(timezone=True)
    inherit_cache = True

    def __init__(self, seconds: str) -> None:
        super().__init__(bindparam(seconds, type_=Float))


@compiles(database_time_ago)
def _postgres_ago(element: database_time_ago, compiler: Any, **kw: Any) -> str:
    return f"(statement_timestamp() - {compiler.process(element.clauses, **kw)} " \
        "* interval '1 second')"


@compiles(database_time_ago, "sqlite")
def _sqlite_ago(element: database_time_ago, compiler: Any, **kw: Any) -> str:
    # The modifier reads e.g. '-2.0 seconds'; the text is the one database_now() writes.
    seconds = compiler.process(element.clauses, **kw)
    return f"(strftime('%Y-%m-%d %H:%M:%f', 'now', -({seconds}) || ' seconds') || '000')"


_NOW = select(database_now())


def database_time(connection: Connection) -> datetime:
    """What time the database says it is (timezone-aware, UTC)."""
    now = connection.execute(_NOW).scalar_one()
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
