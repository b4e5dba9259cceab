"""The system under chaos: the end-to-end harness plus the levers the faults pull.

The sweeper runs on short clocks here (accepted after 2 s, running after 5 s) so
that commands lost with a killed worker or a restarted Redis come back quickly.
On PostgreSQL the processes reach the database through a loopback proxy
(tools/harness/proxy.py), so an outage can take it away from them alone.
"""

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from orderwire.db.engine import make_engine
from tools.harness import databases
from tools.harness.proxy import Proxy
from tools.harness.system import BIN, System

SECRET_KEY = "chaos-only-secret-key-" + "x" * 16
CHAOS_ENV = {
    "SECRET_KEY": SECRET_KEY,
    "ORDERWIRE_SWEEP_ACCEPTED_AFTER": "2",
    "ORDERWIRE_SWEEP_RUNNING_AFTER": "5",
    "ORDERWIRE_LEASE_RENEW_SECONDS": "1",
    "ORDERWIRE_RATE_LIMIT": "off",
}
RELAY_CRASH = {"ORDERWIRE_FAULTS": "relay.after_publish=crash"}
# A worker that dies after each commit, before its fast path publishes: events committed,
# left to the relay (the fast path's published events are marked by the relay itself).
WORKER_CRASH_AFTER_COMMIT = {"ORDERWIRE_FAULTS": "transaction.after_commit=crash"}
APPLICATION_NAME = "orderwire-chaos"


class ChaosSystem(System):
    def __init__(self, workdir: Path, database_url: str, **kwargs: Any) -> None:
        self.direct_database_url = database_url  # what the checks read, never cut off
        self.proxy: Proxy | None = None
        if database_url.startswith("postgresql"):
            url = make_url(database_url)
            self.proxy = Proxy((url.host or "127.0.0.1", url.port or 5432)).start()
            database_url = url.set(host="127.0.0.1", port=self.proxy.port).render_as_string(
                hide_password=False
            )
        super().__init__(workdir, database_url=database_url, env=dict(CHAOS_ENV), **kwargs)
        self.redis.appendonly = True  # so that a restart can come back from the AOF
        self._workers = 0
        self.worker_name = "worker"
        self._engines: list[Engine] = []

    def stop(self) -> None:
        super().stop()
        if self.proxy is not None:
            self.proxy.stop()

    # --- workers -----------------------------------------------------------------------

    def kill_worker(self) -> None:
        """SIGKILL the worker's whole process group: main process and pool children."""
        self.stop_process(self.worker_name, signal.SIGKILL)

    def kill_worker_main(self) -> int:
        """SIGKILL the worker's main process only; its pool processes die with it
        (PDEATHSIG). Returns its pid."""
        process = self.processes.pop(self.worker_name)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(20)
        return process.pid

    def worker_exit(self) -> tuple[int, str] | None:
        """(exit code, the log's last error line) if the current worker has died, else None."""
        process = self.processes.get(self.worker_name)
        if process is None or process.poll() is None:
            return None
        lines = (self.logs / f"{self.worker_name}.log").read_text(errors="replace").splitlines()
        errors = [line for line in lines if "Error" in line or "Traceback" in line]
        self.processes.pop(self.worker_name)
        return process.returncode, (errors[-1][-300:] if errors else "(nothing in its log)")

    def kill_web_worker(self) -> int | None:
        """SIGKILL one gunicorn worker (the master starts another). Returns its pid."""
        children = psutil.Process(self.processes["web"].pid).children()
        if not children:
            return None
        children[0].send_signal(signal.SIGKILL)
        return children[0].pid

    def kill_worker_child(self) -> int | None:
        """SIGKILL one pool process; Celery's main process replaces it. Returns its pid."""
        main = psutil.Process(self.processes[self.worker_name].pid)
        children = main.children()
        if not children:
            return None
        children[0].send_signal(signal.SIGKILL)
        return children[0].pid

    def replace_worker(self, env: dict[str, str] | None = None) -> str:
        """Start a new worker (with extra `env`), under a new name so its log is its own."""
        self._workers += 1
        self.worker_name = f"worker-{self._workers}"
        argv = [
            str(BIN / "celery"), "--app", "worker.celery_app", "worker", "--loglevel", "INFO",
            "--concurrency", str(self.worker_concurrency), "--hostname", f"{self.worker_name}@%h",
            "--without-mingle", "--without-gossip",
        ]
        self._spawn(self.worker_name, argv, env)
        self.wait_for_worker(self.worker_name)
        return self.worker_name

    # --- the relay ---------------------------------------------------------------------

    def stop_relay(self) -> None:
        self.stop_process("relay")

    def launch_relay(self, env: dict[str, str] | None = None) -> None:
        self._spawn("relay", [str(BIN / "orderwire"), "relay"], env)

    def wait_for_relay_exit(self, timeout: float) -> int | None:
        """The relay's exit code, or None if it is still running after `timeout`."""
        process = self.processes["relay"]
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if process.poll() is not None:
            self.processes.pop("relay")
        return process.poll()

    # --- Redis and the database ----------------------------------------------------------

    def restart_redis(self, down_seconds: float, *, keep_data: bool) -> None:
        """Kill Redis like a crash, then start it again on the same port: from its
        append-only file (`keep_data`), or empty, as if its disk were lost too."""
        self.redis.kill()
        if not keep_data:
            self.redis.wipe()
        time.sleep(down_seconds)
        self.redis.start()

    def survivors(self) -> dict[str, int]:
        """The PID of every process now running, by name (none is restarted by a Redis fault)."""
        return {name: process.pid for name, process in self.processes.items()
                if process.poll() is None}

    def engine(self) -> Engine:
        engine = make_engine(self.direct_database_url)
        self._engines.append(engine)
        return engine

    def dispose_engines(self) -> None:
        for engine in self._engines:
            engine.dispose()

    def lock_database(self, seconds: float) -> str:
        """Make the database unavailable for `seconds`; returns how."""
        if self.direct_database_url.startswith("sqlite"):
            return _lock_sqlite(make_url(self.direct_database_url).database or "", seconds)
        return _lock_postgres(self.direct_database_url, seconds)

    def database_outage(self, seconds: float) -> str:
        """PostgreSQL gone for `seconds`, as a crashed or unreachable server: connections
        reset, new ones refused (the proxy). SQLite has no server to lose: locked instead."""
        if self.proxy is None:
            return self.lock_database(seconds)
        dropped = self.proxy.outage(seconds)
        return (f"PostgreSQL unreachable {seconds:g} s "
                f"({dropped} connections reset, new ones refused)")


def _lock_sqlite(path: str, seconds: float) -> str:
    # An exclusive lock held from outside: every writer waits (busy_timeout) until it ends.
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        connection.execute("ROLLBACK")
    finally:
        connection.close()
    return f"SQLite BEGIN EXCLUSIVE held {seconds:g} s"


def _lock_postgres(url: str, seconds: float) -> str:
    # Every table locked (reads wait too), then every orderwire connection terminated
    # while the lock is still held, so the pools must reconnect once it is released.
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as locker:
        locker.execute(text("BEGIN"))
        locker.execute(text("LOCK TABLE commands, orders, events, notifications "
                            "IN ACCESS EXCLUSIVE MODE"))
        time.sleep(seconds)
        terminated = locker.execute(
            text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                 "WHERE application_name = :name AND pid <> pg_backend_pid()"),
            {"name": APPLICATION_NAME},
        ).scalar_one()
        locker.execute(text("ROLLBACK"))
    engine.dispose()
    return f"PostgreSQL tables locked {seconds:g} s, then {terminated} connections terminated"


@contextmanager
def chaos_database(workdir: Path) -> Iterator[str]:
    """SQLite under `workdir`, or a private schema of the PostgreSQL in DATABASE_URL whose
    connections carry an application name the outage can find them by."""
    with databases.private_database(
        workdir,
        os.environ.get("DATABASE_URL"),
        "chaos",
        extra_query=f"&application_name={APPLICATION_NAME}",
    ) as url:
        yield url
