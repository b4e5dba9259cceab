"""The Alembic migrations must build exactly the schema that `orderwire.db.tables` declares.

The code reads and writes through `metadata`, but production databases get their schema
from the migrations: if the two drift apart, the first sign would be a failing query in
production. Every test runs on a fresh SQLite file, and again on PostgreSQL when
TEST_DATABASE_URL points at one; there each test gets its own throw-away schema (through
`search_path`), so it never disturbs other tests that share the database.
"""

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from orderwire.db import command_log
from orderwire.db.tables import events, metadata
from orderwire.migrate import alembic_config, downgrade, upgrade
from tests.payloads import a_key


def _postgres_url() -> URL:
    raw = os.environ.get("TEST_DATABASE_URL")
    if not raw:
        pytest.skip("TEST_DATABASE_URL is not set: the PostgreSQL migration tests need it")
    url = make_url(raw)
    if url.get_backend_name() != "postgresql":
        pytest.skip(f"TEST_DATABASE_URL is {url.get_backend_name()}, not PostgreSQL")
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # as orderwire.config does
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    base = _postgres_url()
    schema = f"orderwire_migrations_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, poolclass=NullPool)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def connect(database_url: str) -> Iterator[Connection]:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def schema_differences(database_url: str) -> list:
    """What autogenerate would change to turn the database into `metadata` (empty: equal)."""
    with connect(database_url) as connection:
        return compare_metadata(MigrationContext.configure(connection), metadata)


def _predicate(clause: object) -> str:
    return re.sub(r"[\s()]", "", str(clause)).lower()


def partial_index_differences(database_url: str) -> list[str]:
    """Partial-index predicates that differ: compare_metadata does not look at them."""
    problems = []
    with connect(database_url) as connection:
        dialect = connection.dialect
        inspector = inspect(connection)
        for table in metadata.tables.values():
            reflected: dict[str | None, Any] = {
                index["name"]: index for index in inspector.get_indexes(table.name)
            }
            for index in table.indexes:
                where = index.dialect_kwargs.get(f"{dialect.name}_where")
                if where is None:
                    continue
                expected = _predicate(where.compile(dialect=dialect))
                found = reflected.get(index.name, {}).get("dialect_options", {})
                actual = found.get(f"{dialect.name}_where")
                if actual is None or _predicate(actual) != expected:
                    problems.append(f"{index.name}: expected WHERE {expected}, found {actual}")
    return problems


def current_revision(database_url: str) -> str | None:
    with connect(database_url) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def table_names(database_url: str) -> set[str]:
    with connect(database_url) as connection:
        return set(inspect(connection).get_table_names())


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def test_the_revisions_form_one_line_of_history():
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"several heads, merge them: {heads}"


def test_the_config_keeps_the_url_verbatim():
    url = "postgresql+psycopg://user:p%40ss@db:5432/orderwire?options=-csearch_path%3Dx"
    assert alembic_config(url).get_main_option("sqlalchemy.url") == url


def test_upgrade_to_head_builds_exactly_the_schema_of_the_metadata(database_url):
    upgrade(database_url)

    assert current_revision(database_url) == head_revision()
    assert schema_differences(database_url) == []
    assert partial_index_differences(database_url) == []
    assert table_names(database_url) == set(metadata.tables) | {"alembic_version"}

    upgrade(database_url)  # already at head: nothing to do, nothing fails
    assert schema_differences(database_url) == []


def test_event_sequence_numbers_are_assigned_by_the_database(database_url):
    upgrade(database_url)
    now = datetime.now(UTC)
    rows = [
        {
            "event_id": str(uuid.uuid4()),
            "type": "OrderPlaced",
            "aggregate_id": "order-1",
            "aggregate_version": version,
            "request_id": None,
            "audience": ["session"],
            "envelope": "{}",
            "occurred_at": now,
            "published_at": None,
        }
        for version in (1, 2)
    ]
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            for row in rows:
                connection.execute(events.insert().values(**row))
        with engine.connect() as connection:
            seqs = (
                connection.execute(select(events.c.seq).order_by(events.c.aggregate_version))
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert all(isinstance(seq, int) for seq in seqs)
    assert seqs[0] < seqs[1]


def test_downgrade_to_base_drops_everything_and_upgrade_works_again(database_url):
    upgrade(database_url)
    downgrade(database_url, "base")

    assert table_names(database_url) <= {"alembic_version"}
    assert current_revision(database_url) is None

    upgrade(database_url)
    assert schema_differences(database_url) == []
    assert partial_index_differences(database_url) == []


def test_processes_that_migrate_at_the_same_time_all_succeed(database_url):
    # Every process may run `orderwire migrate` at start-up: the later ones must wait
    # for the first and then find nothing to do, not fail creating the same tables.
    script = "import sys; from orderwire.migrate import upgrade; upgrade(sys.argv[1])"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, database_url],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=60)[0] for process in processes]

    assert [process.returncode for process in processes] == [0] * 4, "\n".join(outputs)
    assert schema_differences(database_url) == []


def test_commands_recorded_before_keys_were_per_session_keep_working(database_url):
    # 0003_i12 moved the command log's key from the request id to the command id derived
    # from (session, request id): a row written under 0002 must get exactly that id.
    upgrade(database_url, "0002")
    now = datetime.now(UTC)
    old: dict[str, Any] = {
        "request_id": a_key("old"), "command": "PlaceOrder", "payload": "{}",
        "fingerprint": "f" * 64, "session_id": "s-1", "order_id": None, "status": "accepted",
        "attempts": 0, "accepted_at": now, "touched_at": now,
    }
    without_session = {**old, "request_id": a_key("old"), "session_id": None}
    columns = ", ".join(old)
    values = ", ".join(f":{name}" for name in old)
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            for row in (old, without_session):
                connection.execute(text(f"INSERT INTO commands ({columns}) VALUES ({values})"),
                                   row)
        upgrade(database_url)
        with engine.connect() as connection:
            for row in (old, without_session):
                derived = command_log.command_id(row["session_id"], row["request_id"])
                stored = command_log.get(connection, derived)
                assert stored is not None and stored["request_id"] == row["request_id"]
    finally:
        engine.dispose()
    assert schema_differences(database_url) == []


def test_what_handled_events_knew_becomes_positions_and_parked_deliveries(database_url):
    # 0004 replaced the row per handled (event, subscriber) with a position per subscriber:
    # it starts after the newest event it handled, and older events of its types it never
    # handled (Celery gave up) are parked, not skipped. The downgrade writes rows back.
    upgrade(database_url, "0003_i12")
    now = datetime.now(UTC)
    kinds = ["OrderPaid", "OrderPlaced", "OrderPaid", "OrderPaid", "OrderPaid"]
    ids = [str(uuid.uuid4()) for _ in kinds]
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            for number, (event_id, kind) in enumerate(zip(ids, kinds, strict=True)):
                connection.execute(events.insert().values(
                    event_id=event_id, type=kind, aggregate_id=f"order-{event_id}",
                    aggregate_version=1, request_id=None, audience=[], envelope="{}",
                    occurred_at=now, published_at=now if number < 4 else None,
                ))
            for event_id in (ids[0], ids[3]):  # the ledger booked the 1st and 4th event
                connection.execute(
                    text("INSERT INTO handled_events VALUES (:event_id, 'book', :now)"),
                    {"event_id": event_id, "now": now},
                )
        upgrade(database_url)
        with engine.connect() as connection:
            seq_of = dict(connection.execute(select(events.c.event_id, events.c.seq)).all())
            positions = connection.execute(
                text("SELECT subscriber, position FROM subscriber_positions")
            ).all()
            parked = connection.execute(
                text("SELECT subscriber, event_id FROM parked_deliveries")
            ).all()
        assert [tuple(row) for row in positions] == [("book", seq_of[ids[3]])]
        # The 3rd (a type it handles, never handled) is parked; the OrderPlaced is not its
        # type; the 5th comes after its position and is simply delivered.
        assert [tuple(row) for row in parked] == [("book", ids[2])]

        downgrade(database_url, "0003_i12")
        with engine.connect() as connection:
            handled = set(connection.execute(text("SELECT event_id FROM handled_events")).scalars())
        assert ids[2] not in handled and ids[4] not in handled
        assert {ids[0], ids[3]} <= handled
    finally:
        engine.dispose()


def test_a_downgrade_below_0005_parks_the_discarded_deliveries_again(database_url):
    # The older code has no discard: what an operator gave up on shows as parked there.
    upgrade(database_url)
    now = datetime.now(UTC)
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO discarded_deliveries (subscriber, event_id, seq, type, attempts,"
                " last_error, parked_at, discarded_at, reason) VALUES ('book', 'e-1', 7,"
                " 'OrderPaid', 10, 'Timeout', :now, :now, 'refunded by hand')"
            ), {"now": now})
        downgrade(database_url, "0004_subscriber_positions")
        assert "discarded_deliveries" not in table_names(database_url)
        with engine.connect() as connection:
            parked = connection.execute(text(
                "SELECT subscriber, event_id, seq, attempts, last_error FROM parked_deliveries"
            )).all()
        assert [tuple(row) for row in parked] == [("book", "e-1", 7, 10, "Timeout")]
        upgrade(database_url)
        assert "discarded_deliveries" in table_names(database_url)
    finally:
        engine.dispose()
