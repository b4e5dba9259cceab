"""The whole system as real processes, for end-to-end tests: a private Redis, gunicorn
(gevent) serving the app, Celery worker processes and the relay, on loopback ports.

    with System(tmp_path) as system:
        browser = system.new_session()
        with system.websocket(browser) as ws: ...
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import requests
import websocket
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from orderwire.db.engine import make_engine
from orderwire.db.tables import metadata
from orderwire.local_redis import PrivateRedis, free_port
from tools.harness.api_client import ApiClient
from tools.harness.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class System:
    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str | None = None,
        worker_concurrency: int = 2,
        env: dict[str, str] | None = None,
        start_relay: bool = True,
    ) -> None:
        self.workdir = Path(workdir)
        self.logs = self.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.redis = PrivateRedis(self.workdir / "redis")
        self.port = free_port()
        self.database_url = database_url or f"sqlite:///{self.workdir / 'orderwire.db'}"
        self.worker_concurrency = worker_concurrency
        self.extra_env = env or {}
        self.start_relay = start_relay
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "REDIS_URL": self.redis.url,
                "DATABASE_URL": self.database_url,
                "PORT": str(self.port),
                "ORDERWIRE_ENV": "test",
                "LOG_LEVEL": "INFO",
                "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
                "PYTHONPATH": str(ROOT),
                "FLOWER_BASIC_AUTH": "operator:test-only-password",
            }
        )
        env.update(self.extra_env)
        return env

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        process = subprocess.Popen(
            argv, cwd=ROOT, env={**self.env(), **(env or {})}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes[name] = process
        return process

    def start(self) -> Self:
        self.redis.start()
        self.create_schema()
        self.start_processes()
        return self

    def create_schema(self) -> None:
        engine = make_engine(self.database_url)
        metadata.create_all(engine)
        engine.dispose()

    def start_processes(self) -> None:
        """Web, worker (and relay) on whatever Redis the environment names; `start()` first
        starts this system's private one, tests with a Redis of their own call this."""
        self.start_web()
        self.start_worker()
        if self.start_relay:
            self.start_relay_process()
        wait_for(self._web_ready, timeout=30, what="gunicorn to answer /healthz")
        self.wait_for_worker()

    def start_web(self, name: str = "web", port: int | None = None) -> None:
        """Start gunicorn; another `name` and `port` make a second web process that shares
        this system's database and Redis (a page's server going away while others serve)."""
        argv = [
            str(BIN / "gunicorn"), "--config", "python:orderwire.gunicorn_conf", "web:create_app()"
        ]
        self._spawn(name, argv, {"PORT": str(port)} if port else None)

    def start_worker(
        self, name: str = "worker", *, env: dict[str, str] | None = None,
        concurrency: int | None = None,
    ) -> None:
        """Start a Celery worker; `env` is added to this process's environment only.
        Give each new worker its own name: `wait_for_worker` reads the name's log."""
        argv = [
            str(BIN / "celery"), "--app", "worker.celery_app", "worker", "--loglevel", "INFO",
            "--concurrency", str(concurrency or self.worker_concurrency),
            "--hostname", f"{name}@%h", "--without-mingle", "--without-gossip",
        ]
        self._spawn(name, argv, env)

    def worker_children(self, name: str = "worker") -> list[int]:
        """The pids of a worker's pool processes (the children of its main process)."""
        listed = subprocess.run(
            ["ps", "--ppid", str(self.processes[name].pid), "-o", "pid="],
            capture_output=True, text=True, check=False,
        )
        return [int(pid) for pid in listed.stdout.split()]

    def wait_for_worker(self, name: str = "worker", timeout: float = 60) -> None:
        log = self.logs / f"{name}.log"
        wait_for(
            lambda: b" ready." in log.read_bytes(), timeout=timeout, what=f"{name} to be ready"
        )

    def start_relay_process(
        self, name: str = "relay", *, env: dict[str, str] | None = None
    ) -> None:
        """Start `orderwire relay`; `env` is added to this process's environment only."""
        self._spawn(name, [str(BIN / "orderwire"), "relay"], env)

    def _web_ready(self) -> bool:
        try:
            return requests.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop_process(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        for name in list(self.processes):
            self.stop_process(name)
        self.redis.stop()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.dump_logs()
            self.stop()
            raise

    def __exit__(self, exc_type: Any, *_rest: Any) -> None:
        if exc_type is not None:
            self.dump_logs()
        self.stop()

    def dump_logs(self, tail: int = 40) -> None:
        for log in sorted(self.logs.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-tail:]
            print(f"----- {log.name} (last {len(lines)} lines)", *lines, sep="\n", file=sys.stderr)

    # --- clients -----------------------------------------------------------------------

    def new_session(self) -> requests.Session:
        """A browser-like session: GET / sets the signed session cookie. Like a browser, it
        sends a GET again when the server had closed the idle keep-alive connection just as
        the GET went out (gunicorn's keepalive is 5 s; a slow machine hits it)."""
        session = requests.Session()
        session.mount("http://", HTTPAdapter(max_retries=Retry(
            total=2, connect=0, status=0, allowed_methods=frozenset({"GET", "HEAD"}),
        )))
        assert session.get(f"{self.base_url}/", timeout=5).status_code == 200
        return session

    def api(self, session: requests.Session) -> ApiClient:
        """The API client for `session` (one browser) against this system."""
        return ApiClient(session, self.base_url)

    @contextmanager
    def websocket(self, session: requests.Session, after: str | None = None,
                  origin: str | None = None) -> Iterator["LiveClient"]:
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        url = f"ws://127.0.0.1:{self.port}/ws" + (f"?after={after}" if after else "")
        ws = websocket.create_connection(
            url, cookie=cookie, origin=origin or self.base_url, timeout=10
        )
        client = LiveClient(ws)
        try:
            yield client
        finally:
            ws.close()


class LiveClient:
    """A websocket client that collects frames and waits for the ones a test expects."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.hello = self.next_frame()
        assert self.hello["kind"] == "hello", self.hello

    def next_frame(self, timeout: float = 10) -> dict[str, Any]:
        self.ws.settimeout(timeout)
        frame = json.loads(self.ws.recv())
        self.frames.append(frame)
        return frame

    @property
    def events(self) -> list[dict[str, Any]]:
        return [frame["event"] for frame in self.frames if frame["kind"] == "event"]

    def wait_for_event(self, predicate: Any, timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if predicate(event):
                return event
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching event within {timeout}s; saw {self.events}")
            try:
                frame = self.next_frame(timeout=remaining)
            except websocket.WebSocketTimeoutException:
                continue
            if frame["kind"] == "event" and predicate(frame["event"]):
                return frame["event"]

    def collect_for(self, seconds: float) -> list[dict[str, Any]]:
        """Every frame that arrives within `seconds` (for asserting that nothing arrives)."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                self.next_frame(timeout=remaining)
            except websocket.WebSocketTimeoutException:
                break
        return self.events
