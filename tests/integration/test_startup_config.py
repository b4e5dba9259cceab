"""A bad variable stops each process at start-up, with the variable's name in its output,
instead of a process that runs (or restarts forever) and fails later."""

import os
import subprocess
from pathlib import Path

import pytest

from orderwire.local_redis import free_port
from tools.harness.system import BIN, ROOT

pytestmark = pytest.mark.integration

BAD = [
    pytest.param({"REDIS_URL": "http://cache.internal:6379"}, "REDIS_URL", id="redis-url"),
    pytest.param({"DATABASE_URL": "mysql://root@db/orders"}, "DATABASE_URL", id="database-url"),
    pytest.param(
        {"ORDERWIRE_ENV": "production", "DATABASE_URL": "sqlite://", "REDIS_URL": "redis://h"},
        "SECRET_KEY",
        id="production-secret-key",
    ),
    pytest.param(
        {"ORDERWIRE_ENV": "production", "SECRET_KEY": "p" * 40, "REDIS_URL": "redis://h"},
        "DATABASE_URL",
        id="production-database-url",
    ),
]


def environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("REDIS_URL", "DATABASE_URL", "SECRET_KEY", "ORDERWIRE_ENV", "PORT")
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT),
        ORDERWIRE_VAR=str(tmp_path),
        PORT=str(free_port()),
    )
    env.update(overrides)
    return env


def run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # A generous timeout: what matters is that the process exits by itself at all.
    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=90, check=False
    )


def test_check_config_accepts_a_good_environment(tmp_path: Path) -> None:
    finished = run([str(BIN / "orderwire"), "check-config"], environment(tmp_path), tmp_path)
    assert finished.returncode == 0, finished.stderr


@pytest.mark.parametrize(("bad", "variable"), BAD)
def test_check_config_stops_naming_the_bad_variable(
    tmp_path: Path, bad: dict[str, str], variable: str
) -> None:
    finished = run([str(BIN / "orderwire"), "check-config"], environment(tmp_path, **bad), tmp_path)
    assert finished.returncode != 0
    assert variable in finished.stderr


@pytest.mark.parametrize(("bad", "variable"), [BAD[0], BAD[2]])
def test_gunicorn_stops_at_once_naming_the_bad_variable(
    tmp_path: Path, bad: dict[str, str], variable: str
) -> None:
    argv = [str(BIN / "gunicorn"), "--config", "python:orderwire.gunicorn_conf", "web:create_app()"]
    finished = run(argv, environment(tmp_path, **bad), tmp_path)

    assert finished.returncode != 0
    assert f"configuration error: {variable}" in finished.stderr
    assert "Booting worker" not in finished.stderr  # refused in the master, before any worker


def test_the_celery_worker_stops_naming_the_bad_variable(tmp_path: Path) -> None:
    argv = [str(BIN / "celery"), "--app", "worker.celery_app", "worker", "--concurrency", "1"]
    finished = run(argv, environment(tmp_path, REDIS_URL="http://cache.internal"), tmp_path)

    assert finished.returncode != 0
    assert "configuration error: REDIS_URL" in finished.stderr


def test_the_relay_stops_naming_the_bad_variable(tmp_path: Path) -> None:
    env = environment(tmp_path, DATABASE_URL="mysql://root@db/orders")
    finished = run([str(BIN / "orderwire"), "relay"], env, tmp_path)

    assert finished.returncode != 0
    assert "configuration error: DATABASE_URL" in finished.stderr
