"""Engines: one per process, made by bootstrap, never at import time."""

import random
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

READ_ONLY = "orderwire_read_only"


def read_only(engine: Engine) -> Engine:
    """The same engine and pool, for transactions that only read (on SQLite they then
    neither take nor wait for the write lock; elsewhere this changes nothing)."""
    return engine.execution_options(**{READ_ONLY: True})


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(database_url: str, *, pool_size: int = 5) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(database_url)
    return create_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=10,
        # Optimistic disconnect handling instead of a ping per checkout: the ping was a round
        # trip per transaction (0.13 ms of CPU and 0.2 ms of wall time here, one to two per
        # command). A connection found dead fails its transaction once (a 503 the client
        # retries, a command attempt that is retried) and SQLAlchemy then replaces every idle
        # connection of the pool; recycling after 30 minutes keeps connections that a
        # firewall or the server dropped while idle from being handed out at all.
        pool_pre_ping=False,
        pool_recycle=1800,
        future=True,
        # An unreachable server fails in seconds instead of the OS's minutes, so /readyz
        # answers 503 in time and a request without a database gets its 503 promptly.
        connect_args={} if "connect_timeout" in url.query else {"connect_timeout": 5},
    )


def _sqlite_engine(database_url: str) -> Engine:
    url = make_url(database_url)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(database_url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets the web read while a worker writes. Waiting for the writer is done by
        # _wait_for_write_lock below, not by SQLite's busy handler: that one sleeps in C,
        # which under gevent stops every greenlet of the web process (every request and
        # websocket, not only the one that waits), and it backs off to 25-100 ms naps
        # while the lock is free again within a millisecond or two. The short busy_timeout
        # only covers the rare reader that meets a WAL checkpoint.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # A 16 MiB page cache instead of SQLite's 2 MiB: every command inserts into B-trees
        # keyed by random ids (the derived command id, order and event ids), and with history
        # (docs/benchmarks.md, `--preload`) each insert otherwise reads its leaf pages back
        # from the OS. Per connection, allocated as used.
        cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        driver = connection.connection.dbapi_connection
        assert driver is not None
        begin_sqlite(driver, read_only=bool(connection.get_execution_options().get(READ_ONLY)))

    return engine


def begin_sqlite(driver: Any, *, read_only: bool = False) -> None:
    """BEGIN on a SQLite driver connection, straight on the driver: through exec_driver_sql,
    SQLAlchemy's execution context cost 14 times the BEGIN itself (orderwire/db/prepared.py).
    A reading transaction is a plain deferred BEGIN (WAL readers never wait for the writer);
    a writing one takes the write lock up front, since a deferred transaction that upgrades
    from read to write fails with "database is locked" instead of waiting."""
    if read_only:
        driver.execute("BEGIN")
        return
    try:
        _wait_for_write_lock(lambda: driver.execute("BEGIN IMMEDIATE"))
    except sqlite3.Error as error:  # raised as SQLAlchemy raises it, for the outage handler
        raise DBAPIError.instance(
            "BEGIN IMMEDIATE", None, error, sqlite3.Error, hide_parameters=True,
        ) from error


T = TypeVar("T")

BUSY_TIMEOUT_MS = 2
CACHE_KIB = 16 * 1024
WRITE_LOCK_TIMEOUT = 30.0  # seconds a writer waits for SQLite's lock before giving up


def _wait_for_write_lock(action: Callable[[], T], timeout: float = WRITE_LOCK_TIMEOUT) -> T:
    """Retry `action` while the database is locked, napping 1-5 ms in Python between tries
    (time.sleep yields to other greenlets under gevent), for up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    nap = 0.001
    while True:
        try:
            return action()
        except Exception as error:
            locked = isinstance(getattr(error, "orig", error), sqlite3.OperationalError)
            if not locked or "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(nap * (0.5 + random.random()))
            nap = min(nap * 2, 0.005)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
