"""Structured JSON logs that carry the request id from the HTTP request to the websocket.

The request id lives in a context variable: the web sets it per request, the
pipeline per command, the publisher per event; a logging filter copies it onto
every record, so one `grep <request id>` tells a command's whole story.
"""

import logging
import sys
import time
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


COMMAND_TASK_PREFIX = "orderwire."


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get() or _celery_command_task_id(record)
        return True


def _celery_command_task_id(record: logging.LogRecord) -> str | None:
    """Celery's own lines ("Task orderwire.PlaceOrder[<id>] received / succeeded") are logged
    outside any command, but carry the task in `data`; a command task's id is its request id."""
    task = getattr(record, "data", None)
    if not isinstance(task, dict):
        return None
    name = str(task.get("name", ""))
    if name.startswith(COMMAND_TASK_PREFIX):
        return task.get("id")
    return None


class _UtcJsonFormatter(JsonFormatter):
    # ISO 8601 in UTC with milliseconds, like the event envelopes: 2026-11-23T10:00:00.123Z
    converter = staticmethod(time.gmtime)  # as a plain attribute, the checker binds it
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"


def json_formatter(process: str) -> logging.Formatter:
    """The one line format of every orderwire process (gunicorn's own logs use it too,
    through `logconfig_dict` in orderwire/gunicorn_conf.py)."""
    return _UtcJsonFormatter(
        "{asctime}{levelname}{name}{message}{request_id}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        static_fields={"process": process},
    )


def configure_logging(level: str = "INFO", *, process: str = "orderwire") -> None:
    """JSON lines on stderr, one logger tree; safe to call more than once."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter(process))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_orderwire", False):
            root.removeHandler(existing)
    handler._orderwire = True  # type: ignore[attr-defined]  # our mark, read above
    root.addHandler(handler)
    root.setLevel(level.upper())
