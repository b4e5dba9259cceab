"""`make run`'s launcher: everything starts, the page answers, Ctrl-C stops it all."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import requests

from orderwire.local_redis import free_port
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_run_starts_every_process_with_a_private_redis_and_ctrl_c_stops_them_all(
    tmp_path: Path,
) -> None:
    port, flower_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "DATABASE_URL", "FLOWER_BASIC_AUTH")
    }
    env.update(
        PORT=str(port),
        FLOWER_PORT=str(flower_port),
        ORDERWIRE_VAR=str(tmp_path / "var"),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    launcher = subprocess.Popen(
        [str(BIN / "orderwire"), "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: _answers(f"http://127.0.0.1:{port}/"), timeout=60, what="the page to answer"
        )
        credentials = (tmp_path / "var" / "flower-credentials").read_text().strip()
        user, _, password = credentials.partition(":")
        wait_for(
            lambda: _answers(f"http://127.0.0.1:{flower_port}/", auth=(user, password)),
            timeout=60,
            what="Flower to answer with its local credentials",
        )
        assert requests.get(f"http://127.0.0.1:{flower_port}/", timeout=5).status_code == 401
        assert (tmp_path / "var" / "orderwire.db").exists()
        redis_pids = [
            int(pid)
            for pid in subprocess.run(
                ["pgrep", "-f", f"redis-server.*{tmp_path / 'var' / 'redis'}"],
                capture_output=True, text=True, check=False,
            ).stdout.split()
        ]
        # Each process runs in a session of its own (so Ctrl-C reaches only the launcher,
        # which stops them in order): they are found as the launcher's descendants.
        children = [
            str(child.pid) for child in psutil.Process(launcher.pid).children(recursive=True)
        ]
    finally:
        os.killpg(launcher.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        output, _ = launcher.communicate(timeout=60)
    text = output.decode(errors="replace")
    assert launcher.returncode == 0, text  # a clean stop, so `make run` reports no error
    assert f"http://127.0.0.1:{port}/" in text and "Flower" in text
    assert len(children) >= 4, text
    wait_for(
        lambda: not any(_alive(int(pid)) for pid in children + [str(p) for p in redis_pids]),
        timeout=30,
        what="every process, Redis included, to stop",
    )


def _answers(url: str, auth: tuple[str, str] | None = None) -> bool:
    try:
        return requests.get(url, timeout=2, auth=auth).status_code == 200
    except requests.RequestException:
        return False
