"""Prepared statements: a Core statement compiled once per database, run on the driver's cursor.

The command path runs a handful of small statements per command (lock the command, read
the order, insert it, its notification and its events, finish the command; the web's
insert into the command log). Through `Connection.execute`, SQLAlchemy builds an
execution context per call: measured here at 60-70 us per statement against 5 us for
the statement itself on SQLite, which made SQLAlchemy a third of a worker's CPU per
command (docs/benchmarks.md, "The fifth session").

`Prepared` keeps what SQLAlchemy is good at, the statement written in Core (tables,
types, each dialect's syntax such as ON CONFLICT and FOR UPDATE), compiled by
SQLAlchemy itself, once per dialect: the SQL text, the order of its parameters, and the
types' bind and result processors (JSON, dates on SQLite, numerics). Each call then
does only what is left: process the parameters, `cursor.execute` inside the
Connection's own transaction, process the row. A driver error is raised as SQLAlchemy
raises it (`sqlalchemy.exc.DBAPIError` and its subclasses, the connection invalidated
on a disconnect), so callers and the outage handler see no difference.

It runs on a SQLAlchemy `Connection`'s transaction or, on the command path, on a
`DriverTransaction` (orderwire/db/driver_transaction.py), which skips the Connection too.

Not supported, and refused when compiled: Python-side column defaults (the statement
must name every value) and expanding IN lists (a fixed list is written with `literal()`
values instead).
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Protocol

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None


class OnDriver(Protocol):
    """What a prepared statement runs on: a SQLAlchemy `Connection` in a transaction, or a
    `DriverTransaction`."""

    @property
    def dialect(self) -> Dialect: ...

    @property
    def connection(self) -> PoolProxiedConnection: ...

    def invalidate(self, exception: BaseException | None = None) -> None: ...


class _Compiled:
    """One statement for one dialect and one set of parameter names."""

    def __init__(self, statement: Any, dialect: Dialect, keys: Sequence[str] | None) -> None:
        compiled = statement.compile(
            dialect=dialect, column_keys=list(keys) if keys is not None else None
        )
        assert isinstance(compiled, SQLCompiler)
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise ValueError(f"a Python-side default is not run by Prepared: {statement}")
        if compiled.post_compile_params:
            raise ValueError(f"an expanding IN is not supported by Prepared: {statement}")
        self.sql = compiled.string
        self.dialect = dialect
        # The values written into the statement itself (`literal("accepted")`), by name.
        self.fixed = {
            name: bind.value for name, bind in compiled.binds.items() if not bind.required
        }
        self.names = list(compiled.positiontup) if compiled.positiontup is not None else None
        self.binds: dict[str, Processor] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }
        self.columns = list(getattr(statement, "exported_columns", ()))
        self._row_processors: list[Processor] | None = None

    def parameters(self, given: Mapping[str, Any]) -> Any:
        values = {**self.fixed, **given} if self.fixed else given
        processed = {}
        for name, value in values.items():
            processor = self.binds.get(name)
            processed[name] = processor(value) if processor is not None and value is not None \
                else value
        if self.names is None:
            return processed
        return tuple(processed[name] for name in self.names)

    def row(self, cursor: Any, raw: Sequence[Any]) -> dict[str, Any]:
        if self._row_processors is None:
            by_name = {column.name: column for column in self.columns}
            processors: list[Processor] = []
            for description in cursor.description:
                column = by_name.get(description[0])
                processors.append(
                    column.type.dialect_impl(self.dialect).result_processor(
                        self.dialect, description[1]
                    ) if column is not None else None
                )
            self._row_processors = processors
        return {
            description[0]: (processor(value) if processor is not None else value)
            for description, processor, value in zip(
                cursor.description, self._row_processors, raw, strict=True
            )
        }


class Prepared:
    """A Core statement run on the driver's cursor of a Connection's open transaction."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...] | None], _Compiled] = {}

    def _for(self, connection: OnDriver, keys: Sequence[str] | None) -> _Compiled:
        key = (connection.dialect.name, tuple(keys) if keys is not None else None)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled(self.statement, connection.dialect, keys)
        return compiled

    def execute(self, connection: OnDriver, parameters: Mapping[str, Any]) -> int:
        """Run it; the number of rows it changed."""
        compiled = self._for(connection, list(parameters))
        with _cursor(connection, compiled, parameters) as cursor:
            cursor.execute(compiled.sql, compiled.parameters(parameters))
            return int(cursor.rowcount)

    def executemany(self, connection: OnDriver, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        compiled = self._for(connection, list(rows[0]))
        with _cursor(connection, compiled, rows) as cursor:
            cursor.executemany(compiled.sql, [compiled.parameters(row) for row in rows])

    def first(
        self, connection: OnDriver, parameters: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Run it; its first row as a dict of column name to value, or None."""
        compiled = self._for(connection, list(parameters))
        with _cursor(connection, compiled, parameters) as cursor:
            cursor.execute(compiled.sql, compiled.parameters(parameters))
            raw = cursor.fetchone()
            # Drain the rest, as SQLAlchemy's .first() does: a RETURNING or SELECT with rows
            # left unread would keep the statement open on SQLite.
            if raw is not None:
                cursor.fetchall()
            return compiled.row(cursor, raw) if raw is not None else None

    def all(self, connection: OnDriver, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run it; every row, each as a dict of column name to value."""
        compiled = self._for(connection, list(parameters))
        with _cursor(connection, compiled, parameters) as cursor:
            cursor.execute(compiled.sql, compiled.parameters(parameters))
            return [compiled.row(cursor, raw) for raw in cursor.fetchall()]


@contextmanager
def _cursor(connection: OnDriver, compiled: _Compiled, parameters: Any) -> Iterator[Any]:
    """The transaction's own driver cursor; driver errors become SQLAlchemy's."""
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    try:
        with driver_errors(connection, compiled.sql, parameters, cursor):
            yield cursor
    finally:
        with suppress(connection.dialect.loaded_dbapi.Error):  # broke under it: raised above
            cursor.close()


@contextmanager
def driver_errors(
    connection: OnDriver, statement: str, parameters: Any = None, cursor: Any = None
) -> Iterator[None]:
    """A driver error raised as SQLAlchemy raises it: its `DBAPIError` subclass, with the
    connection invalidated (dropped from the pool) when the error says it is gone."""
    dialect = connection.dialect
    try:
        yield
    except dialect.loaded_dbapi.Error as error:
        disconnected = dialect.is_disconnect(
            error, connection.connection.dbapi_connection, cursor
        )
        if disconnected:
            connection.invalidate(error)
        raise DBAPIError.instance(
            statement, parameters, error, dialect.loaded_dbapi.Error,
            hide_parameters=True, dialect=dialect, connection_invalidated=disconnected,
        ) from error
