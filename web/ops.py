"""Operators' endpoints: liveness and readiness."""

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive and serving requests; says nothing about dependencies."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """200 when the database and Redis answer; 503 naming each one that does not."""
    services = current_app.extensions["orderwire"]
    down: dict[str, str] = {}
    try:
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        down["database"] = type(error).__name__
    try:
        services.redis.ping()
    except Exception as error:
        down["redis"] = type(error).__name__
    response = jsonify({"status": "unavailable" if down else "ready", "down": down})
    response.status_code = 503 if down else 200
    return response
