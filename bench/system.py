"""The systems under test, started as real processes: orderwire, the tutorial, bare Celery.

Reuses the end-to-end harness (tools/harness/system.py): gunicorn with gevent, Celery
workers, the relay and a private Redis, with SQLite in a temporary directory. If
DATABASE_URL names PostgreSQL, the run gets a private schema there, dropped after.
Beside orderwire run the tutorial implementation (bench/tutorial/: its own gunicorn,
worker and tables) and the bare Celery worker. orderwire and the tutorial each have
their Flower, as deployed; each side has its own Redis database on the one Redis
server, so a Flower sees only its own side's task events.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import redis

from bench.noop_app import NOOP_QUEUE
from bench.tutorial.tasks import TUTORIAL_QUEUE
from orderwire.db.engine import make_engine
from orderwire.local_redis import free_port
from tools.harness import databases
from tools.harness.system import BIN, System
from tools.harness.waiting import wait_for

CELERY_WORKERS = ("worker", "noop", "tutorial")
# Redis databases: orderwire keeps 0 (the harness's URL), the others get their own.
TUTORIAL_REDIS_DB = 1
NOOP_REDIS_DB = 2


class BenchSystem(System):
    """orderwire's processes and, beside them, the tutorial and the bare Celery worker.

    `web_log_level` is the web process's LOG_LEVEL only: the harness knows a worker is
    ready by its INFO line, so the workers keep INFO."""

    def __init__(self, *args: Any, web_log_level: str = "INFO", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.web_log_level = web_log_level
        self.tutorial_port = free_port()

    @property
    def tutorial_url(self) -> str:
        return f"http://127.0.0.1:{self.tutorial_port}"

    def redis_url_for(self, db: int) -> str:
        return self.redis.url.rsplit("/", 1)[0] + f"/{db}"

    def tutorial_database_url(self) -> str:
        """A SQLite file of its own (its own writer lock), or the run's PostgreSQL schema."""
        if self.database_url.startswith("sqlite"):
            return f"sqlite:///{self.workdir / 'tutorial.db'}"
        return self.database_url

    def start_web(self, name: str = "web", port: int | None = None) -> None:
        argv = [
            str(BIN / "gunicorn"), "--config", "python:orderwire.gunicorn_conf", "web:create_app()"
        ]
        env = {"LOG_LEVEL": self.web_log_level, **({"PORT": str(port)} if port else {})}
        self._spawn(name, argv, env)

    def start_flower(self) -> None:
        self._spawn("flower", [str(BIN / "orderwire"), "flower"],
                    {"FLOWER_PORT": str(free_port())})

    def start_noop_worker(self, concurrency: int) -> None:
        argv = [
            str(BIN / "celery"), "--app", "bench.noop_app", "worker", "--loglevel", "INFO",
            "--concurrency", str(concurrency), "--hostname", "noop@%h", "--queues", NOOP_QUEUE,
            "--without-mingle", "--without-gossip",
        ]
        self._spawn("noop", argv, {"REDIS_URL": self.redis_url_for(NOOP_REDIS_DB)})
        self.wait_for_worker("noop")

    def start_tutorial(self, concurrency: int) -> None:
        """The tutorial's tables, web, worker and Flower, started as orderwire's are."""
        from bench.tutorial.tasks import metadata

        engine = make_engine(self.tutorial_database_url())
        metadata.create_all(engine)
        engine.dispose()
        env = {"REDIS_URL": self.redis_url_for(TUTORIAL_REDIS_DB),
               "TUTORIAL_DATABASE_URL": self.tutorial_database_url()}
        self._spawn("tutorial web", [
            str(BIN / "gunicorn"), "--config", "python:orderwire.gunicorn_conf",
            "bench.tutorial.web:create_app()",
        ], {**env, "PORT": str(self.tutorial_port), "LOG_LEVEL": self.web_log_level})
        self._spawn("tutorial", [
            str(BIN / "celery"), "--app", "bench.tutorial.tasks", "worker", "--loglevel", "INFO",
            "--concurrency", str(concurrency), "--hostname", "tutorial@%h",
            "--queues", TUTORIAL_QUEUE, "--without-mingle", "--without-gossip",
        ], env)
        self._spawn("tutorial flower", [
            str(BIN / "celery"), "--app", "bench.tutorial.tasks", "flower",
            f"--port={free_port()}", "--address=127.0.0.1", "--persistent=False",
        ], env)
        wait_for(lambda: self._answers(f"{self.tutorial_url}/healthz"), timeout=30,
                 what="the tutorial's gunicorn to answer /healthz")
        self.wait_for_worker("tutorial")

    def _answers(self, url: str) -> bool:
        import requests

        try:
            return requests.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

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
