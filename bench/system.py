"""The system under test, started as real processes, plus the no-op baseline worker.

Reuses the end-to-end harness (tests/harness.py): gunicorn with gevent, Celery
workers, the relay and a private Redis, with SQLite in a temporary directory. If
DATABASE_URL names PostgreSQL, the run gets a private schema there, dropped after.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import redis

from bench.noop_app import NOOP_QUEUE
from tests import databases
from tests.harness import BIN, System

CELERY_WORKERS = ("worker", "noop")


class BenchSystem(System):
    """orderwire's processes and, beside them, a bare Celery worker for the baseline.

    `web_log_level` is the web process's LOG_LEVEL only: the harness knows a worker is
    ready by its INFO line, so the workers keep INFO."""

    def __init__(self, *args: Any, web_log_level: str = "INFO", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.web_log_level = web_log_level

    def start_web(self, name: str = "web", port: int | None = None) -> None:
        argv = [
            str(BIN / "gunicorn"), "--config", "python:orderwire.gunicorn_conf", "web:create_app()"
        ]
        env = {"LOG_LEVEL": self.web_log_level, **({"PORT": str(port)} if port else {})}
        self._spawn(name, argv, env)

    def start_noop_worker(self, concurrency: int) -> None:
        argv = [
            str(BIN / "celery"), "--app", "bench.noop_app", "worker", "--loglevel", "INFO",
            "--concurrency", str(concurrency), "--hostname", "noop@%h", "--queues", NOOP_QUEUE,
            "--without-mingle", "--without-gossip",
        ]
        self._spawn("noop", argv)
        self.wait_for_worker("noop")

    def process_trees(self) -> dict[str, list[psutil.Process]]:
        """Each component's processes, for CPU and memory. A Celery worker counts as two:
        its main process (consumer, task events, acks; one thread, so one core at most)
        and its pool of child processes (which run the tasks)."""
        trees: dict[str, list[psutil.Process]] = {}
        for name, popen in self.processes.items():
            try:
                root = psutil.Process(popen.pid)
                children = root.children(recursive=True)
            except psutil.NoSuchProcess:
                continue
            if name in CELERY_WORKERS:
                trees[f"{name} main"], trees[f"{name} pool"] = [root], children
            else:
                trees[name] = [root, *children]
        if self.redis.process is not None:
            trees["redis"] = [psutil.Process(self.redis.process.pid)]
        return trees

    def redis_client(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis.url)

    def web_worker_process(self) -> psutil.Process:
        """The gunicorn worker (the arbiter's child) that holds the websockets."""
        arbiter = psutil.Process(self.processes["web"].pid)
        children = arbiter.children()
        assert len(children) == 1, f"expected one gunicorn worker, found {len(children)}"
        return children[0]


@contextmanager
def private_database(workdir: Path) -> Iterator[str]:
    """SQLite under `workdir`, or a private schema of the PostgreSQL in DATABASE_URL."""
    with databases.private_database(workdir, os.environ.get("DATABASE_URL"), "bench") as url:
        yield url


def database_kind(url: str) -> str:
    return "postgresql" if url.startswith("postgresql") else "sqlite"
