"""Structured JSON logs that carry the request id from the HTTP request to the websocket.

The request id lives in a context variable: the web sets it per request, the
pipeline per command, the publisher per event; a logging filter copies it onto
every record, so one `grep <request id>` tells a command's whole story.
"""

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


def configure_logging(level: str = "INFO", *, process: str = "orderwire") -> None:
    """JSON lines on stderr, one logger tree; safe to call more than once."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}{request_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"process": process},
        )
    )
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_orderwire", False):
            root.removeHandler(existing)
    handler._orderwire = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
