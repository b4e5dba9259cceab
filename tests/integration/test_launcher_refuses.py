"""`make run` refuses bad input before anything runs: a clear message, exit 2, and
nothing left behind (no private Redis, no var/redis-url)."""

import shutil
import subprocess
from pathlib import Path

import psutil
import pytest

from tools.harness.launched import BIN, ROOT, launch_environment

pytestmark = pytest.mark.integration


def run_launcher(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = launch_environment(cwd / "var", port=5000)
    del env["PORT"]
    return subprocess.run(
        [str(BIN / "orderwire"), "run"], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=90, check=False,
    )


def redis_servers_under(directory: Path) -> list[psutil.Process]:
    return [
        process for process in psutil.process_iter(["cmdline"])
        if str(directory) in " ".join(process.info["cmdline"] or [])
        and "redis-server" in " ".join(process.info["cmdline"] or [])
    ]


def test_an_unreadable_env_file_line_stops_it_naming_the_line(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Procfile", tmp_path / "Procfile")
    (tmp_path / ".env").write_text("LOG_LEVEL=DEBUG\nPORT 5103\n")

    finished = run_launcher(tmp_path)

    assert finished.returncode == 2
    assert f"configuration error: {tmp_path / '.env'}, line 2: 'PORT 5103' is not NAME=value" \
        in finished.stderr
    assert not (tmp_path / "var").exists()


def test_a_bad_value_in_the_env_file_stops_it_and_its_private_redis(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Procfile", tmp_path / "Procfile")
    (tmp_path / ".env").write_text("PORT=not-a-port\n")

    finished = run_launcher(tmp_path)

    assert finished.returncode == 2
    assert "configuration error: PORT: must be a whole number" in finished.stderr
    assert not (tmp_path / "var" / "redis-url").exists()
    assert redis_servers_under(tmp_path) == []
    assert "orderwire is starting" not in finished.stdout


def test_without_a_procfile_it_says_where_to_run_it(tmp_path: Path) -> None:
    finished = run_launcher(tmp_path)

    assert finished.returncode == 2
    assert f"no Procfile in {tmp_path}: run this from the project's folder" in finished.stderr
