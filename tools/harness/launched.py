"""`orderwire run` / `orderwire dev` (or `make run`) as a real process tree, for the tests:
its output read as it comes, the pids it reports, its whole tree, and the page."""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import psutil
import requests

from orderwire.local_redis import free_port
from tools.harness.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def launch_environment(var: Path, port: int, flower_port: int | None = None) -> dict[str, str]:
    """The test's environment without what `make run` must provide itself."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "DATABASE_URL", "FLOWER_BASIC_AUTH", "PORT", "FLOWER_PORT")
    }
    env.update(ORDERWIRE_VAR=str(var), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    env["PORT"] = str(port)
    if flower_port is not None:
        env["FLOWER_PORT"] = str(flower_port)
    return env


class Launched:
    """A launcher started in a session of its own, as a terminal would run it."""

    def __init__(self, argv: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._seen: set[psutil.Process] = set()
        self._stop_reading = threading.Event()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            if self._stop_reading.is_set():
                break
            with self._lock:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
        self.process.stdout.close()

    def stop_reading(self) -> None:
        """Close the launcher's output at the next line it prints, as `| head` does once
        it has its lines."""
        self._stop_reading.set()

    def reading(self) -> bool:
        return self._reader.is_alive()

    @property
    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def said(self, pattern: str) -> list[re.Match]:
        with self._lock:
            return [m for line in self.lines if (m := re.search(pattern, line))]

    def pid_of(self, name: str, *, other_than: int | None = None, timeout: float = 90) -> int:
        """The pid the launcher last reported starting `name` with (a new one if asked)."""

        def newest() -> int | None:
            started = self.said(rf"launcher \| {name} started \(pid (\d+)\)")
            pid = int(started[-1].group(1)) if started else None
            return pid if pid != other_than else None

        return wait_for(newest, timeout=timeout, what=f"{name} to be started")

    def wait_exit(self, timeout: float = 90) -> int:
        returncode = self.process.wait(timeout)
        self._reader.join(10)
        return returncode

    def tree(self) -> list[psutil.Process]:
        """Every process the launcher started, and what those started, right now (all
        the processes seen so far are remembered for `kill`)."""
        found = psutil.Process(self.process.pid).children(recursive=True)
        self._seen.update(found)
        return found

    def kill(self) -> None:
        """Last resort after a failed test: nothing of this tree may outlive it."""
        for process in self._seen:
            with contextlib.suppress(psutil.Error):
                process.kill()
        if self.process.poll() is not None:
            return
        for child in self.tree():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
        self.process.kill()
        self.process.wait()


def launch(command: str, var: Path) -> tuple[Launched, int, int]:
    """`orderwire run` or `orderwire dev` from the project's folder on free ports: the
    launcher, the page's port and Flower's."""
    port, flower_port = free_port(), free_port()
    run = Launched(
        [str(BIN / "orderwire"), command], cwd=ROOT,
        env=launch_environment(var, port, flower_port),
    )
    return run, port, flower_port


def page_answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/", timeout=3).status_code == 200
    except requests.RequestException:
        return False


def flower_answers(port: int, credentials: str) -> bool:
    user, _, password = credentials.partition(":")
    try:
        response = requests.get(f"http://127.0.0.1:{port}/", timeout=3, auth=(user, password))
    except requests.RequestException:
        return False
    return response.status_code == 200


def place_an_order_and_wait(port: int, timeout: float = 60) -> dict[str, Any]:
    """A real command through web, Redis and a worker; its final status."""
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.get(f"{base}/", timeout=5).raise_for_status()
    body = {"customer_name": "Ada", "lines": [{"product": "tea", "quantity": 1, "unit_price": "2"}]}
    accepted = session.post(
        f"{base}/api/orders", data=json.dumps(body), timeout=10,
        headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())},
    )
    assert accepted.status_code == 202, accepted.text
    status_url = f"{base}{accepted.json()['status_url']}"
    return wait_for(
        lambda: (status := session.get(status_url, timeout=5).json())["status"]
        in ("succeeded", "rejected", "failed") and status,
        timeout=timeout, what="the order to be carried out",
    )


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
