"""The standalone `orderwire` commands read ./.env as `make run` does: a database, var folder
or Redis named there is the one `make tail`, `make migrate` and `orderwire deliveries` use."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from orderwire import private_redis_address
from orderwire.db.engine import make_engine
from orderwire.local_redis import PrivateRedis

pytestmark = pytest.mark.integration

SET_BY_THE_TESTS = ("DATABASE_URL", "REDIS_URL", "REDIS_SENTINELS", "ORDERWIRE_VAR")


def orderwire(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`orderwire ARGV` run from `cwd`, with nothing of ours in its environment but `env`."""
    environ = {key: value for key, value in os.environ.items() if key not in SET_BY_THE_TESTS}
    return subprocess.run(
        [sys.executable, "-m", "orderwire.cli", *argv],
        cwd=cwd, env={**environ, **env}, capture_output=True, text=True, timeout=60,
        check=False,
    )


def test_migrate_takes_the_database_named_in_the_env_file(tmp_path: Path) -> None:
    database = tmp_path / "from-env-file.db"
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{database}\n")

    migrated = orderwire(tmp_path, "migrate")

    assert migrated.returncode == 0, migrated.stderr
    assert f"from {tmp_path / '.env'}: DATABASE_URL" in migrated.stderr
    engine = make_engine(f"sqlite:///{database}")
    try:
        assert "commands" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert not (tmp_path / "var").exists()  # the default database was never opened


def test_the_var_folder_in_the_env_file_leads_to_make_runs_redis(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    var = tmp_path / "elsewhere"
    var.mkdir()
    private_redis_address.record(var, redis_server.url)
    (tmp_path / ".env").write_text(f"ORDERWIRE_VAR={var}\n")

    checked = orderwire(tmp_path, "check-config")

    assert checked.returncode == 0, checked.stderr
    assert f"from {tmp_path / '.env'}: ORDERWIRE_VAR" in checked.stderr
    assert f"using make run's Redis from {var / 'redis-url'}" in checked.stderr


def test_the_environment_wins_over_the_env_file_and_nothing_is_said(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://nobody@127.0.0.1:1/none\n")
    database = tmp_path / "from-environment.db"

    migrated = orderwire(tmp_path, "migrate", DATABASE_URL=f"sqlite:///{database}")

    assert migrated.returncode == 0, migrated.stderr
    assert ".env" not in migrated.stderr
    assert database.exists()


def test_a_line_that_is_not_name_value_stops_the_command_naming_it(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LOG_LEVEL=DEBUG\nDATABASE_URL sqlite:///x.db\n")

    checked = orderwire(tmp_path, "check-config")

    assert checked.returncode == 2
    assert (f"configuration error: {tmp_path / '.env'}, line 2: "
            "'DATABASE_URL sqlite:///x.db' is not NAME=value") in checked.stderr
    assert not (tmp_path / "x.db").exists()
