"""The Alembic environment for orderwire, run by `orderwire.migrate` (there is no alembic.ini).

The database URL comes from the Config that `orderwire.migrate.alembic_config` builds; the
target schema is `orderwire.db.tables.metadata`, so autogenerate compares against it.

An upgrade runs as one transaction that first takes a lock (SQLite: BEGIN IMMEDIATE, via
the project's engine; PostgreSQL: an advisory lock). Several processes that migrate at
start-up at the same moment then run one after the other, and the later ones find the
schema already at head instead of failing half-way through creating the same tables.
"""

from alembic import context
from sqlalchemy import text

from orderwire.db.engine import make_engine
from orderwire.db.tables import metadata

config = context.config

# Any constant will do, as long as every orderwire migrator uses the same one.
POSTGRES_MIGRATION_LOCK = 0x6F_7264_6572_77  # "orderw"


def run_migrations_offline() -> None:
    """Emit SQL instead of running it (`command.upgrade(config, "head", sql=True)`)."""
    url = _database_url()
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no sqlalchemy.url: run migrations through orderwire.migrate")
    return url


def run_migrations_online() -> None:
    engine = make_engine(_database_url())
    try:
        with engine.connect() as connection, connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_MIGRATION_LOCK}
                )
            context.configure(
                connection=connection,
                target_metadata=metadata,
                # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
                render_as_batch=connection.dialect.name == "sqlite",
            )
            # Inside our transaction, so Alembic neither commits early nor per revision.
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
