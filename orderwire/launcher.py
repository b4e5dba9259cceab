"""`make run` (`orderwire run`) and `make dev` (`orderwire dev`): everything a newcomer
needs, started in the foreground and kept running.

Without REDIS_URL it starts a private Redis (append-only, under ./var/redis) and writes
its address to var/redis-url for `make tail`; without DATABASE_URL it uses SQLite under
./var/. It reads `.env` (the environment wins), migrates the database, makes local
Flower credentials once, prints where everything is, and supervises every Procfile
process (orderwire/supervision/): one that dies is restarted with backoff while the
others keep serving. SIGINT (Ctrl-C), SIGTERM or SIGHUP stops them all, then the
private Redis, and exits 0.
"""

import contextlib
import importlib.util
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from types import FrameType

from honcho.environ import parse_procfile
from honcho.printer import Message, Printer

from orderwire import private_redis_address, worker_liveness
from orderwire.config import ConfigError, Settings, safe_url, var_dir
from orderwire.env_file import EnvFileError, merge_env_file
from orderwire.local_redis import PrivateRedis
from orderwire.redis_clients import describe, redis_client
from orderwire.supervision.supervisor import Liveness, ProcessSpec, Supervisor

ProbeFactory = Callable[[Mapping[str, str]], Liveness]


def _worker_consumes(env: Mapping[str, str]) -> Liveness:
    """The worker is alive while its consumer takes its own probes from the broker
    (orderwire/worker_liveness.py): a live PID whose consumer took nothing for six probe
    intervals (30 s by default) is restarted."""
    settings = Settings.from_env(env)
    client = redis_client(settings, socket_timeout=2, socket_connect_timeout=2)
    node = f"worker@{socket.gethostname()}"  # the Procfile's --hostname worker@%h
    window = worker_liveness.window(settings.worker_probe_seconds)

    def consumes() -> bool:
        age = worker_liveness.seconds_since_consumed(client, node)
        return age is not None and age <= window

    # The grace also runs from the start, so it leaves the worker time to boot (imports,
    # forking the pool) before its first probe.
    return Liveness(check=consumes, interval=settings.worker_probe_seconds, grace=window + 15)


# Liveness probes by Procfile name: a factory given the processes' environment that
# returns the Liveness to poll.
LIVENESS: dict[str, ProbeFactory] = {"worker": _worker_consumes}

# `make dev` restarts these when the code changes. Flower only watches the others.
RELOADED = ("web", "worker", "relay")
WATCHED_PACKAGES = ("domain", "orderwire", "web", "worker")


class _Interrupted(Exception):
    """A stop signal that arrived before the supervisor took over."""


def _interrupted(signum: int, _frame: FrameType | None) -> None:
    raise _Interrupted(signum)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _flower_credentials(var: Path) -> str:
    stored = var / "flower-credentials"
    if not stored.exists():
        stored.write_text(f"admin:{secrets.token_urlsafe(12)}\n")
        stored.chmod(0o600)
    return stored.read_text().strip()


def _worker_answers(env: Mapping[str, str]) -> Callable[[], bool]:
    """Flower asks the workers five questions when it starts and prints "Inspect method …
    failed" for each one nobody answers: it starts once a worker answers a ping."""
    from orderwire.task_queue import create_celery

    app = create_celery(Settings.from_env(env))
    return lambda: bool(app.control.ping(timeout=1.0))


def _watched_paths() -> list[Path]:
    paths: list[Path] = []
    for package in WATCHED_PACKAGES:
        spec = importlib.util.find_spec(package)
        paths.extend(Path(path) for path in (spec and spec.submodule_search_locations) or [])
    return paths


def _specs(procfile: Path, env: dict[str, str], settings: Settings) -> list[ProcessSpec]:
    processes = parse_procfile(procfile.read_text()).processes
    return [
        ProcessSpec(
            name=name,
            command=command,
            env=env,
            liveness=LIVENESS[name](env) if name in LIVENESS else None,
            start_when=_worker_answers(env) if name == "flower" else None,
            # Celery's warm shutdown lets a running command finish: up to its time limit.
            stop_timeout=settings.task_time_limit + 10.0 if name == "worker" else 30.0,
        )
        for name, command in processes.items()
    ]


class _Output:
    """honcho's `HH:MM:SS name | line` format (a colour per process on a terminal), one
    line at a time from many threads."""

    def __init__(self, names: list[str]) -> None:
        from honcho.colour import get_colours

        self._printer = Printer(sys.stdout, width=max(len(name) for name in [*names, "launcher"]))
        colours = get_colours()
        self._colours = {name: next(colours) for name in names}
        self._lock = threading.Lock()

    def line(self, name: str, text: str) -> None:
        message = Message("line", text, datetime.now(), name, self._colours.get(name))
        # Where the output went away (`make run | head`), the children must not block on a
        # full pipe: their lines are still read, and dropped.
        with self._lock, contextlib.suppress(OSError):
            self._printer.write(message)

    def say(self, text: str) -> None:
        self.line("launcher", text)


def _banner(
    settings: Settings, env: Mapping[str, str], private: bool, env_file: str, reload: bool
) -> str:
    user, _, password = env["FLOWER_BASIC_AUTH"].partition(":")
    redis_note = " (private; its address is in var/redis-url)" if private else ""
    lines = [
        "",
        f"  orderwire is starting{' with auto-reload' if reload else ''}",
        f"  page    http://127.0.0.1:{settings.port}/",
        f"  Flower  http://127.0.0.1:{settings.flower_port}/  (user {user}, password {password})",
        f"  Redis   {describe(settings)}{redis_note}",
        f"  DB      {safe_url(settings.database_url)}",
        f"  .env    {env_file}",
        "  events  `make tail` in another terminal prints every event",
    ]
    if reload:
        watched = ", ".join(f"{package}/" for package in WATCHED_PACKAGES)
        lines.append(f"  reload  {', '.join(RELOADED)} restart when a .py or .html file in "
                     f"{watched} changes")
    lines += ["  Ctrl-C stops everything.", ""]
    return "\n".join(lines)


def run(procfile: str = "Procfile", *, reload: bool = False) -> int:
    """Start and supervise every Procfile process until a stop signal; 0 after a clean stop."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _interrupted)
    if reload and importlib.util.find_spec("watchfiles") is None:
        print("orderwire: `dev` needs watchfiles: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    procfile_path = Path(procfile)
    if not procfile_path.is_file():
        print(f"orderwire: no {procfile} in {Path.cwd()}: run this from the project's folder",
              file=sys.stderr)
        return 2
    try:
        env, env_file = merge_env_file(os.environ, Path.cwd() / ".env")
    except EnvFileError as error:
        print(f"orderwire: configuration error: {error}", file=sys.stderr)
        return 2
    var = var_dir(env)
    var.mkdir(parents=True, exist_ok=True)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONUNBUFFERED", "1")  # lines appear as they are written
    env.setdefault("FLOWER_BASIC_AUTH", _flower_credentials(var))
    private_redis = None
    try:
        if not env.get("REDIS_URL") and not env.get("REDIS_SENTINELS"):
            private_redis = PrivateRedis(var / "redis", appendonly=True, die_with_parent=True)
            private_redis.start()
            env["REDIS_URL"] = private_redis.url
            private_redis_address.record(var, private_redis.url)
        try:
            settings = Settings.from_env(env)
        except ConfigError as error:
            print(f"orderwire: configuration error: {error}", file=sys.stderr)
            return 2
        env.setdefault("DATABASE_URL", settings.database_url)
        from orderwire.migrate import upgrade

        upgrade(settings.database_url)
        specs = _specs(procfile_path, env, settings)
        print(_banner(settings, env, private_redis is not None, env_file.describe(), reload),
              flush=True)
        output = _Output([spec.name for spec in specs])
        supervisor = Supervisor(specs, output=output.line, say=output.say)
        for signum in STOP_SIGNALS:
            signal.signal(signum, lambda _signum, _frame: supervisor.request_stop())
        if reload:
            from orderwire.supervision.reloader import watch_and_restart

            stop_watching = threading.Event()
            watch_and_restart(supervisor, _watched_paths(), RELOADED, stop_watching)
        supervisor.run()
        if reload:
            stop_watching.set()
        return 0
    except _Interrupted:
        return 0  # stopped while starting: nothing was running yet but the private Redis
    finally:
        # Stopping the Redis must not be cut short by another Ctrl-C.
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        if private_redis is not None:
            private_redis.stop()
            private_redis_address.forget(var)
