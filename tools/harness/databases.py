"""Private databases for tests, benchmarks and chaos runs: a SQLite file, or a fresh schema
in a shared PostgreSQL, dropped afterwards, so that runs never disturb each other."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from orderwire.config import _database_url
from orderwire.db.engine import make_engine


@contextmanager
def private_schema(postgres_url: str, prefix: str, extra_query: str = "") -> Iterator[str]:
    """A URL whose connections use a new schema of `postgres_url`; the schema is dropped after."""
    base = _database_url({"DATABASE_URL": postgres_url})
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}{extra_query}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def private_database(
    workdir: Path, configured: str | None, prefix: str, extra_query: str = ""
) -> Iterator[str]:
    """SQLite under `workdir`, or a private schema of `configured` when it is PostgreSQL."""
    if not configured or configured.startswith("sqlite"):
        yield f"sqlite:///{workdir / 'orderwire.db'}"
        return
    with private_schema(configured, prefix, extra_query) as url:
        yield url
