"""The Flask web app: `create_app()` is the only way to make one (gunicorn calls it)."""

from datetime import timedelta

from flask import Flask

from orderwire.bootstrap import Orderwire, bootstrap
from orderwire.config import Settings
from orderwire.logs import configure_logging, request_id_var
from web import extensions
from web.extensions import csrf, limiter, live_hub, sock
from web.proxies import TrustedProxies
from web.sessions import SchemeAwareSessionInterface

MAX_BODY_BYTES = 64 * 1024


def create_app(settings: Settings | None = None, *, services: Orderwire | None = None) -> Flask:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, process="web")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        PERMANENT_SESSION_LIFETIME=timedelta(days=30),
        WTF_CSRF_TIME_LIMIT=None,
        # Pings find dead peers (one unanswered for a whole interval closes the socket);
        # clients only send tiny control messages. Compression: web/live/handshake.py.
        SOCK_SERVER_OPTIONS={
            "ping_interval": settings.websocket_ping_seconds,
            "max_message_size": 4096,
        },
    )
    core = services or bootstrap(settings)
    app.session_interface = SchemeAwareSessionInterface()
    # Wrapping wsgi_app is Flask's documented way to add WSGI middleware.
    app.wsgi_app = TrustedProxies(  # type: ignore[method-assign]
        app.wsgi_app, networks=settings.trusted_proxy_networks, hops=settings.trusted_proxy_hops
    )

    @app.before_request
    def _fresh_request_id() -> None:
        request_id_var.set(None)

    from web import page_policy
    from web.api import commands, queries
    from web.api.errors import register_error_handlers
    from web.api_docs import bp as api_docs_bp
    from web.body_limit import ChunkedBodyLimit
    from web.live.stream import bp as live_bp
    from web.openapi import bp as openapi_bp
    from web.ops import bp as ops_bp
    from web.outages import register_outage_handlers
    from web.pages import bp as pages_bp
    from web.site import bp as site_bp

    extensions.services.init_app(app, core)
    live_hub.init_app(app, core.redis, queue_limit=settings.websocket_queue_size)
    csrf.init_app(app)
    # The JSON API needs no CSRF token: it only takes application/json, which a
    # cross-site form cannot send and cross-site fetch cannot send without CORS.
    csrf.exempt(commands.bp)
    sock.init_app(app)
    limiter.init_app(app, core.redis, settings.rate_limit)  # after CSRF: see web/rate_limit.py
    page_policy.init_app(app)  # after the limit: a foreign form is counted, then refused
    for blueprint in (commands.bp, queries.bp, live_bp, ops_bp, pages_bp, openapi_bp,
                      site_bp, api_docs_bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    register_outage_handlers(app)
    # Middleware, as above.
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, MAX_BODY_BYTES)  # type: ignore[method-assign]
    return app
