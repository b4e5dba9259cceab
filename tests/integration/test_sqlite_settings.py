"""What every SQLite connection orderwire opens is set up with (orderwire/db/engine.py)."""

from pathlib import Path

import pytest
from sqlalchemy import text

from orderwire.db.engine import CACHE_KIB, make_engine

pytestmark = pytest.mark.integration


def test_every_sqlite_connection_writes_ahead_and_keeps_a_large_page_cache(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'settings.db'}")
    try:
        with engine.connect() as connection:
            settings = [
                connection.execute(text(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "cache_size")
            ]
    finally:
        engine.dispose()

    assert settings == ["wal", -CACHE_KIB]  # negative: KiB, not pages
    assert CACHE_KIB >= 16 * 1024
