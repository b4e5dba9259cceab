"""gunicorn settings for the web process (Procfile: `gunicorn --config python:web.gunicorn_conf`).

gevent, not sync and not a thread per socket: every websocket holds its request
for as long as the page is open, and thousands of idle sockets cost a few KiB
each as greenlets (figures in docs/benchmarks.md).
"""

import os

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '5000')}")
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
worker_connections = int(os.environ.get("WEB_CONNECTIONS", "10000"))
# gevent workers heartbeat from their own loop, so long-lived websockets do not trip this.
timeout = 30
graceful_timeout = 15
keepalive = 5
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """On SIGTERM, tell every websocket to close with 1001 ("going away") before the
    worker stops, so pages reconnect (to another process) at once instead of timing out."""
    original = worker.handle_exit

    def handle_exit(sig, frame):  # type: ignore[no-untyped-def]
        hub = worker.wsgi.extensions.get("live_hub") if hasattr(worker.wsgi, "extensions") else None
        if hub is not None:
            hub.shutdown()
        original(sig, frame)

    worker.handle_exit = handle_exit
