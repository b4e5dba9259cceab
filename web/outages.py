"""One answer for the whole app when a dependency is away: `503` with `Retry-After`.

Any view, page or hook that meets the database or Redis unreachable (refused, timed out,
locked past its timeout, a pool with no connection to give) ends here instead of in a
500: JSON in the API's error shape, a short page for the pages. A value the database
refuses to store (PostgreSQL rejects a NUL byte in text) is the client's input, not an
outage: 422. Anything else that escapes a view is a bug and stays a 500, logged, in the
error shape for the API.
"""

import logging

import redis
from flask import Flask, Response, render_template, request
from flask.typing import ResponseReturnValue
from kombu.exceptions import OperationalError as BrokerUnavailable
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, InterfaceError
from sqlalchemy.exc import OperationalError as DatabaseOperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from web.api.errors import error_response

log = logging.getLogger("orderwire.web")

RETRY_AFTER_SECONDS = 5

DATABASE_AWAY = (DatabaseOperationalError, InterfaceError, PoolTimeout, DisconnectionError)
REDIS_AWAY = (redis.ConnectionError, redis.TimeoutError, BrokerUnavailable)


def _is_outage(error: BaseException) -> bool:
    if isinstance(error, DATABASE_AWAY + REDIS_AWAY):
        return True
    # Any other driver error on a connection that just died (psycopg reports some as such).
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _wants_html() -> bool:
    return request.blueprint == "pages"


def unavailable(dependency: str) -> Response | tuple[str, int, dict[str, str]]:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if _wants_html():
        return render_template("unavailable.html", retry_after=RETRY_AFTER_SECONDS), 503, headers
    return error_response(
        503, "unavailable", f"the {dependency} is unavailable; try again shortly", headers=headers
    )


def register_outage_handlers(app: Flask) -> None:
    @app.errorhandler(DataError)
    def _refused_value(error: DataError) -> Response:
        log.warning("the database refused a value", extra={"event": "request.refused_value"})
        return error_response(422, "invalid_input", "the request holds a value that is not valid")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> ResponseReturnValue:
        if _is_outage(error):
            dependency = "database" if isinstance(error, (DBAPIError, *DATABASE_AWAY)) else "Redis"
            log.warning(
                "%s unavailable: %s", dependency, type(error).__name__,
                extra={"event": "request.unavailable", "path": request.path},
            )
            return unavailable(dependency)
        log.exception("unhandled error", extra={"event": "request.crashed", "path": request.path})
        if _wants_html():
            return "Internal Server Error", 500, {"Content-Type": "text/plain; charset=utf-8"}
        return error_response(500, "internal_error", "the server failed; this is a bug")
