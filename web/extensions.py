"""The web app's extensions: created unbound here, at import, with no side effect; bound to
an app by `create_app` with `init_app` (Flask's pattern, as in its `examples/celery` and
microblog's `app/__init__.py`).

Views and hooks reach what an extension holds through its typed accessor (`services.get()`,
`live_hub.get()`), for the app of the current request, never through
`current_app.extensions[...]` by name. Two apps in one process (as in the tests) each hold
their own.
"""

from typing import cast

import redis
from flask import Flask, current_app
from flask_sock import Sock
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Engine

from orderwire.bootstrap import Orderwire
from orderwire.config import Settings
from orderwire.db.engine import read_only
from web.live.hub import LiveHub
from web.rate_limit import CommandRateLimit


class Services:
    """The orderwire core the app runs on (`orderwire.bootstrap`): engine, Redis, queue,
    settings."""

    key = "orderwire"

    def init_app(self, app: Flask, services: Orderwire) -> None:
        app.extensions[self.key] = services

    def get(self) -> Orderwire:
        return cast(Orderwire, current_app.extensions[self.key])

    def settings(self) -> Settings:
        return self.get().settings

    def reader(self) -> Engine:
        """The engine for queries: reads never queue behind a writer (db.engine.read_only)."""
        return read_only(self.get().engine)


class LiveHubs:
    """The process's one subscription to its sessions' live events (web/live/hub.py)."""

    key = "live_hub"

    def init_app(self, app: Flask, client: redis.Redis, *, queue_limit: int) -> None:
        app.extensions[self.key] = LiveHub(client, queue_limit=queue_limit)

    def get(self) -> LiveHub:
        return cast(LiveHub, current_app.extensions[self.key])


services = Services()
live_hub = LiveHubs()
sock = Sock()
csrf = CSRFProtect()
limiter = CommandRateLimit()
