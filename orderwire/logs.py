"""Structured JSON logs that carry the request id from the HTTP request to the websocket.

The request id lives in a context variable: the web sets it per request, the
pipeline per command, the publisher per event; a logging filter copies it onto
every record, so one `grep <request id>` tells a command's whole story.

A line's text is python-json-logger's, byte for byte (tests/unit/test_log_line_text.py
compares them over every kind of record): the same keys in the same order, the same
values, the same escaping (ASCII only) and the same text for what JSON has no type for,
which the library's encoder still decides. But `JsonLineFormatter` writes it itself,
because about nine lines are logged per command across the processes and the library's
generic steps made most of a line's cost: per line it looked up which fields the format
names and what each is renamed to, went through every attribute of the record for the
extras, formatted the time with strftime, and built a JSON encoder for a dict whose keys
never change. Here the fields are literals, only the keys a record has beyond LogRecord's
own are looked at, the time's seconds are formatted once a second, and a line that is
not a dict message, an exception or a stack (nearly all of them) is written as text: the
constant parts encoded once, each value by the encoder's own string escaper or, when it
is not a string, by the encoder. Formatting a line: 72,700 -> 39,700 instructions
(valgrind); a whole `logger.info` line with the handler: 120,200 -> 86,800.
"""

import logging
import math
import sys
import time
from contextvars import ContextVar
from json.encoder import encode_basestring_ascii
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonEncoder

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


class JsonLineFormatter(logging.Formatter):
    """One JSON object a line, in python-json-logger's text (see the module docstring):
    time, level, logger, message, request_id, process, then a dict message's keys and the
    record's extras in the order they were added."""

    # UTC, for logging.Formatter's own formatTime too (as a plain attribute, the checker
    # binds it).
    converter = staticmethod(time.gmtime)

    def __init__(self, process: str) -> None:
        super().__init__()
        self._process = process
        self._process_json = _encode(process)
        # The seconds of the last line's time, formatted: the same for every line logged
        # within that second (several a command), and strftime is most of the time's cost.
        self._second: tuple[float, str] = (math.inf, "")

    def format(self, record: logging.LogRecord) -> str:
        attributes = record.__dict__
        from_message: dict[Any, Any] | None = None
        if isinstance(record.msg, dict):  # logger.info({...}): its keys become the line's
            from_message = record.msg.copy()
            record.message = message = ""
        else:
            record.message = message = record.getMessage()
        # Left on the record as logging.Formatter and the library leave them.
        record.asctime = asctime = self._utc_time(record)
        if record.exc_info or record.exc_text or record.stack_info:
            from_message = self._with_traces(record, from_message or {})
        extras = [
            key
            for key in _maybe_extras(attributes)
            # `extra=` may carry keys that are not strings; JSON writes them as it can.
            if key not in _NOT_EXTRAS and not (isinstance(key, str) and key.startswith("_"))
        ]
        if from_message is None and _FIRST_FIELDS.isdisjoint(extras):
            return self._common_line(attributes, asctime, message, extras)
        line = {
            "time": asctime,
            "level": attributes.get("levelname"),
            "logger": attributes.get("name"),
            "message": message,
            "request_id": attributes.get("request_id"),
            "process": self._process,
        }
        if from_message:
            for key, value in from_message.items():
                line[_RENAMED.get(key, key)] = value
        for key in extras:
            line[key] = attributes[key]
        return _encode(line)

    def _common_line(
        self, attributes: dict[Any, Any], asctime: str, message: str, extras: list[Any]
    ) -> str:
        """Every line but a dict message's, an exception's and a stack's, written as the
        JSON encoder would write the same dict; what never changes (the keys, the process)
        is encoded once, the time needs no escaping, the rest goes through the encoder."""
        text = (
            f'{{"time": "{asctime}", "level": {_json_name(attributes.get("levelname"))}, '
            f'"logger": {_json_name(attributes.get("name"))}, "message": {_json(message)}, '
            f'"request_id": {_json(attributes.get("request_id"))}, "process": {self._process_json}'
        )
        for key in extras:
            text += f", {_json_name(key, key=True)}: {_json(attributes[key])}"
        return text + "}"

    def _utc_time(self, record: logging.LogRecord) -> str:
        """ISO 8601 in UTC with milliseconds, like the event envelopes: the library's
        `formatTime` with `time.gmtime`, "%Y-%m-%dT%H:%M:%S" and "%s.%03dZ"."""
        created = record.created
        second, text = self._second  # one tuple: threads never pair one second's text
        if not second <= created < second + 1:  # with another's number
            second = math.floor(created)  # what gmtime does with a fraction
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, text)
        milliseconds = record.msecs
        if 0 <= milliseconds < 1000:  # always, but for a record made by hand
            return text + _MILLISECONDS[int(milliseconds)]
        return f"{text}.{int(milliseconds):03d}Z"

    def _with_traces(
        self, record: logging.LogRecord, from_message: dict[Any, Any]
    ) -> dict[Any, Any]:
        """The library's rules: a formatted exception and stack as `exc_info` and
        `stack_info`, unless a dict message already gives them."""
        if record.exc_info and not from_message.get("exc_info"):
            from_message["exc_info"] = self.formatException(record.exc_info)
        if not from_message.get("exc_info") and record.exc_text:
            from_message["exc_info"] = record.exc_text
        if record.stack_info and not from_message.get("stack_info"):
            from_message["stack_info"] = self.formatStack(record.stack_info)
        return from_message


def _json(value: Any) -> str:
    """A value as the encoder writes it inside a line; a string (most values) directly."""
    return _quoted(value) if type(value) is str else _encode(value)


def _json_name(name: Any, *, key: bool = False) -> str:
    """A level's, a logger's or an extra's name as the encoder writes it: a few dozen
    names, named in code, are on every line, so each is escaped once."""
    if type(name) is not str:
        # `extra=` can pass 1 or None as a key; the encoder writes it as "1" or "null".
        return _encode({name: 0})[1:-4] if key else _encode(name)  # '{"1": 0}' -> '"1"'
    text = _NAMES.get(name)
    if text is None:
        text = _quoted(name)
        if len(_NAMES) < 1000:  # a bound all the same
            _NAMES[name] = text
    return text


def _maybe_extras(attributes: dict[Any, Any]) -> list[Any]:
    """The record's keys that can be extras, in the order they were added. LogRecord's
    `__init__` sets its own attributes first and always in the same order, so when a
    record starts with them, only the keys after them need a look: about five instead of
    twenty-five (looking at each key was a quarter of a line's formatting)."""
    keys = list(attributes)
    if keys[:_RECORD_START] == _RECORD_KEYS:
        return keys[_RECORD_START:]
    return keys  # a record made some other way: every key is looked at


# ".000Z" to ".999Z". The library writes "%03d" of a LogRecord's msecs, a float, which
# truncates it as int() does.
_MILLISECONDS = [f".{n:03d}Z" for n in range(1000)]
# The fields every line begins with, in its order; an extra named like one replaces its
# value in place (the library's dict does that), which only the generic path does.
_FIRST_FIELDS = frozenset({"time", "level", "logger", "message", "request_id", "process"})
# A dict message's keys named like a record's attribute get the line's name for it.
_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}
# Never extras: every LogRecord's own attributes (the library's list, which follows the
# Python version: 3.12 added taskName) and the fields the line names first.
_NOT_EXTRAS = frozenset(RESERVED_ATTRS) | {"asctime", "levelname", "name", "message", "request_id"}
# What every LogRecord's `__init__` sets, in its order (logging.makeLogRecord runs it).
_RECORD_KEYS = list(logging.makeLogRecord({}).__dict__)
_RECORD_START = len(_RECORD_KEYS)
# The standard library's C encoder, with the library's rules for what JSON has no type for
# (datetimes, exceptions, bytes, enums, dataclasses, else str()), which it calls only for
# those. One encoder for every line; `encode` is safe to call from several threads.
_encode = JsonEncoder().encode
# A string as the encoder writes it (ensure_ascii, as the library's default).
_quoted = encode_basestring_ascii
_NAMES: dict[str, str] = {}


def json_formatter(process: str) -> logging.Formatter:
    """The one line format of every orderwire process (gunicorn's own logs use it too,
    through `logconfig_dict` in orderwire/gunicorn_conf.py)."""
    return JsonLineFormatter(process)


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
