"""gunicorn settings for the web process (Procfile: `--config python:orderwire.gunicorn_conf`).

It lives outside the `web` package on purpose: gunicorn's master imports it, and
importing `web` would import Flask, redis and ssl there before the gevent worker
patches them (gevent's MonkeyPatchWarning at every start).

gevent, not sync and not a thread per socket: every websocket holds its request
for as long as the page is open. Measured against gthread (docs/serving.md,
bench/ws_capacity.py): less memory per idle socket, under half the CPU for the same
fan-out, and no OS thread per socket.
"""

import os
import signal
import subprocess
import sys
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # gunicorn has imported these already; only the checker needs them here
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '5000')}")
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
worker_connections = int(os.environ.get("WEB_CONNECTIONS", "10000"))
# gevent workers heartbeat from their own loop, so long-lived websockets do not trip this.
timeout = 30
graceful_timeout = 15
keepalive = 5
errorlog = "-"
# gunicorn would believe X-Forwarded-Proto from 127.0.0.1 (and only there): orderwire decides
# whom to believe itself, from TRUSTED_PROXIES (web/proxies.py), for every forwarded header.
secure_scheme_headers: dict[str, str] = {}
# gunicorn 27's control socket has one default path per user (~/.gunicorn/gunicorn.ctl),
# which every web process on the host would fight over; orderwire never uses it.
control_socket_disable = True
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn's own lines ("Booting worker", "Worker exiting") as the same JSON as the app's.
# No access log: every request would be a line, probes and scrapes included.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "orderwire.logs.json_formatter", "process": "web"}},
    "filters": {"request_id": {"()": "orderwire.logs.RequestIdFilter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
            "stream": "ext://sys.stderr",
        },
    },
    "root": {"level": "WARNING", "handlers": []},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
}


def on_starting(server: "Arbiter") -> None:
    """Check the environment in the master, before binding or forking: a bad variable stops
    gunicorn at once with one line naming it. (Without this a worker fails to boot and
    gunicorn also stops, but after a traceback, and only once a worker has tried.)

    In a child process: the settings import SQLAlchemy, which imports ssl, and ssl
    imported in the master is what gevent warns about when the worker patches it."""
    checked = subprocess.run(
        [sys.executable, "-m", "orderwire.cli", "check-config"],
        stdout=subprocess.DEVNULL,  # "configuration is valid"; the error goes to stderr
        check=False,
    )
    if checked.returncode != 0:
        raise SystemExit(checked.returncode)


def post_worker_init(worker: "Worker") -> None:
    """On SIGTERM, tell every websocket to close with 1001 ("going away") before the
    worker stops, so pages reconnect (to another process) at once instead of keeping the
    worker busy for its whole graceful_timeout and then being cut off.

    gunicorn installed `worker.handle_exit` as the SIGTERM handler before this hook
    runs, so replacing the attribute is not enough: the wrapper is installed again."""
    import gevent

    original = worker.handle_exit
    hub = getattr(worker.wsgi, "extensions", {}).get("live_hub")

    def handle_exit(sig: int, frame: FrameType | None) -> None:
        if hub is not None:
            # In a greenlet of its own, not in the signal handler: the hub takes a lock.
            gevent.spawn(hub.shutdown)
        original(sig, frame)

    worker.handle_exit = handle_exit  # type: ignore[method-assign]  # on purpose (above)
    signal.signal(signal.SIGTERM, handle_exit)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn does: don't break system calls
