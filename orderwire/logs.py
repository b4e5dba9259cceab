"""Structured JSON logs that carry the request id from the HTTP request to the websocket.

The request id lives in a context variable: the web sets it per request, the
pipeline per command, the publisher per event; a logging filter copies it onto
every record, so one `grep <request id>` tells a command's whole story.
"""

import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonEncoder, JsonFormatter

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The library's own steps, with what they look up per key and per line worked out
        # once: about nine lines are logged per command across the processes, and its
        # generic version cost a third of each line (docs/benchmarks.md).
        self._named = [(field, self._get_rename(field)) for field in self._required_fields]
        # The library's default encoder when none is given (as here), named for the checker.
        encoder_class = self.json_encoder or JsonEncoder
        self._encoder = encoder_class(
            default=self.json_default, indent=self.json_indent,
            ensure_ascii=self.json_ensure_ascii,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """What `JsonFormatter.add_fields` adds, in its order: the format's fields, the static
        ones, a dict message's, then the record's extras."""
        attributes = record.__dict__
        for field, name in self._named:
            log_data[name] = attributes.get(field)
        log_data.update(self.static_fields)
        for key, value in message_dict.items():
            log_data[self._get_rename(key)] = value
        skip = self._skip_fields
        for key, value in attributes.items():
            if key not in skip and not key.startswith("_"):
                log_data[self._get_rename(key)] = value

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        return self._encoder.encode(log_data)


def json_formatter(process: str) -> logging.Formatter:
    """The one line format of every orderwire process (gunicorn's own logs use it too,
    through `logconfig_dict` in orderwire/gunicorn_conf.py)."""
    return _UtcJsonFormatter(
        "{asctime}{levelname}{name}{message}{request_id}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        static_fields={"process": process},
    )


def skip_unused_record_attributes() -> None:
    """Stop every LogRecord from collecting what no orderwire line prints: the caller's
    frame, the thread, the process id and name (the logging HOWTO's "Optimization"). The
    line's `process` is the static role name, not the pid."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def configure_logging(level: str = "INFO", *, process: str = "orderwire") -> None:
    """JSON lines on stderr, one logger tree; safe to call more than once."""
    skip_unused_record_attributes()
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
