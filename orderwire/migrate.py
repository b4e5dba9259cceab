"""Schema migrations: Alembic, configured in code so that no alembic.ini has to be found.

The migration environment lives inside the package (`orderwire/migrations`) and is
shipped as package data, so an installed orderwire (a container, a wheel) can migrate
its own database without the source tree. `orderwire migrate` calls `upgrade`.

A new revision, after changing `orderwire/db/tables.py`:

    python -c "from alembic import command; from orderwire.migrate import alembic_config; \
command.upgrade(alembic_config('sqlite:///var/autogen.db'), 'head'); \
command.revision(alembic_config('sqlite:///var/autogen.db'), 'what changed', \
autogenerate=True, rev_id='0002')"

then read and tidy the generated file: autogenerate is a draft, not the migration.
"""

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps


def _escape(value: str) -> str:
    # Config values go through ConfigParser interpolation: a literal % (URL-encoded
    # passwords, `options=-csearch_path%3D...`) must be doubled or it is an error.
    return value.replace("%", "%%")


def alembic_config(database_url: str) -> Config:
    """An Alembic Config for `database_url`, pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", _escape(str(MIGRATIONS)))
    config.set_main_option("sqlalchemy.url", _escape(database_url))
    # Revision files named like versions/0001_initial.py (pass rev_id when generating).
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database up to `revision`; a no-op when it is already there."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Take the database back to `revision` (`"base"` drops everything orderwire made)."""
    command.downgrade(alembic_config(database_url), revision)


@cache
def code_head() -> str | None:
    """The revision this code's schema is: the head of the packaged migrations."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def database_revision(connection: Connection) -> str | None:
    """The revision the database was migrated to (None: never migrated by Alembic).

    Read straight from Alembic's version table: its MigrationContext logs two INFO lines
    each time, which on every readiness probe would be most of a web process's log."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
