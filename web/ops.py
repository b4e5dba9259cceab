"""Operators' endpoints: liveness, readiness and Prometheus metrics."""

from flask import Blueprint, Flask, Response, current_app, jsonify
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)
from sqlalchemy import text

from orderwire import worker_liveness
from orderwire.feed.metrics import FeedCollector
from orderwire.metrics import OrderwireCollector
from orderwire.migrate import code_head, database_revision
from orderwire.outbox.deliveries.metrics import DeliveryCollector
from web.extensions import live_hub, services

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive and serving requests; says nothing about dependencies."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """200 when the database and Redis answer and the database's schema is the one this code
    was written for; 503 naming each one that is not (a host pointed at the wrong database,
    or one nobody migrated, must not take traffic).

    Also lists the Celery workers that proved they consume (orderwire/worker_liveness.py),
    for information: a web process is ready to accept commands with no worker at all
    (they wait in the queue), so workers never make this 503."""
    orderwire = services.get()
    down: dict[str, str] = {}
    try:
        with orderwire.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            revision = database_revision(connection)
        if revision != code_head():
            down["database"] = f"schema is at {revision or 'no revision'}, not {code_head()}"
    except Exception as error:
        down["database"] = type(error).__name__
    workers: list[dict[str, object]] = []
    try:
        orderwire.redis.ping()
        workers = [
            {"node": seen.node, "seconds_since_consumed": round(seen.seconds_since_consumed, 1)}
            for seen in worker_liveness.consuming_workers(orderwire.redis)
        ]
    except Exception as error:
        down["redis"] = type(error).__name__
    response = jsonify(
        {"status": "unavailable" if down else "ready", "down": down, "workers_consuming": workers}
    )
    response.status_code = 503 if down else 200
    return response


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format; every metric is described in orderwire/metrics.py."""
    recorder = services.get().metrics
    if recorder is not None:
        recorder.flush()  # this process's own counts, not a second late
    return Response(generate_latest(_registry(current_app)), mimetype=CONTENT_TYPE_LATEST)


def _registry(app: Flask) -> CollectorRegistry:
    # One registry per app, not prometheus-client's global one, so that two apps in one
    # process (as in the tests) never collide. Made on the first scrape.
    registry = app.extensions.get("metrics_registry")
    if registry is None:
        orderwire, hub = services.get(), live_hub.get()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(
            OrderwireCollector(
                orderwire.engine,
                orderwire.redis,
                queue=orderwire.celery.conf.task_default_queue,
                websocket_connections=lambda: hub.connection_count,
            )
        )
        registry.register(FeedCollector(orderwire.redis, orderwire.settings.feed_maxlen))
        registry.register(DeliveryCollector(orderwire.engine, orderwire.subscriptions))
        ProcessCollector(registry=registry)
        registry = app.extensions.setdefault("metrics_registry", registry)
    return registry
