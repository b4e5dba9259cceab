"""A transaction on a pooled driver connection, without SQLAlchemy's `Connection`.

The command path's units of work (the web's insert into the command log, the worker's
transaction per command) run only prepared statements (orderwire/db/prepared.py), so
they need from SQLAlchemy only its pool and its dialect. Its `Connection` around them
(checkout, begin, commit, close, each through events and an execution context) cost
127 us per transaction against 12 us on the driver, measured on SQLite here: a tenth of
the web's CPU per command, and as much in the worker (docs/benchmarks.md, "The fifth
session").

A `DriverTransaction` checks a connection out of the engine's pool (the same pool, the
same `connect` settings), begins the way the engine's own transactions begin (SQLite:
BEGIN IMMEDIATE, waiting for the writer lock in Python; PostgreSQL: psycopg begins by
itself before the first statement), commits or rolls back on the driver, and returns
the connection to the pool, which rolls back whatever was left open. Driver errors are
raised as SQLAlchemy raises them (`driver_errors`), and a connection found dead is
invalidated, as SQLAlchemy would.
"""

from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection

from orderwire.db.engine import begin_sqlite
from orderwire.db.prepared import driver_errors


class DriverTransaction:
    """`with DriverTransaction(engine) as tx:` ... `tx.commit()`; left without a commit, it
    rolls back."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect: Dialect = engine.dialect

    def __enter__(self) -> "DriverTransaction":
        dbapi_error = self.dialect.loaded_dbapi.Error
        try:
            self._pooled = self.engine.raw_connection()
        except dbapi_error as error:  # could not connect: raised as Engine.connect raises it
            raise DBAPIError.instance(
                None, None, error, dbapi_error, hide_parameters=True, dialect=self.dialect
            ) from error
        try:
            if self.dialect.name == "sqlite":
                begin_sqlite(self._pooled.dbapi_connection)
        except BaseException:
            self._pooled.close()
            raise
        return self

    @property
    def connection(self) -> PoolProxiedConnection:
        return self._pooled

    def invalidate(self, exception: BaseException | None = None) -> None:
        self._pooled.invalidate(exception)

    def commit(self) -> None:
        dbapi_connection = self._pooled.dbapi_connection
        assert dbapi_connection is not None
        with driver_errors(self, "COMMIT"):
            dbapi_connection.commit()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Back to the pool, whose reset on return rolls back a transaction left open (an
        # error, or no commit) and does nothing after a commit.
        self._pooled.close()
