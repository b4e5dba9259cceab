"""A log line's text, byte for byte, for every kind of record the processes log.

orderwire writes its own JSON lines (orderwire/logs.py) for speed; what they say must stay
exactly what python-json-logger writes with the same settings, so every tool that reads
the logs (the e2e story grep, log shippers, people) sees no difference.
"""

import copy
import dataclasses
import datetime
import decimal
import enum
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pythonjsonlogger.json import JsonFormatter

from orderwire import gunicorn_conf
from orderwire.logs import RequestIdFilter, json_formatter, request_id_var

# 2026-11-23T10:00:00Z: a second boundary, so the milliseconds are easy to read below.
NOON_ISH = 1795428000.0


def the_librarys(process: str) -> logging.Formatter:
    """python-json-logger configured as orderwire's lines are described: the reference."""
    reference = JsonFormatter(
        "{asctime}{levelname}{name}{message}{request_id}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        static_fields={"process": process},
    )
    reference.converter = time.gmtime  # as logging documents
    reference.default_time_format = "%Y-%m-%dT%H:%M:%S"
    reference.default_msec_format = "%s.%03dZ"
    return reference


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Money:
    amount: str
    currency: str


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")


class Unrepresentable(Unprintable):
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class NumberRecord(logging.LogRecord):
    """A record class whose message is not a string (logging allows a record factory)."""

    def getMessage(self) -> str:
        return 42  # type: ignore[return-value]  # what such a subclass could do


def a_failure() -> tuple:
    try:
        raise ValueError("boom é")
    except ValueError:
        return sys.exc_info()


def record(**attributes: object) -> logging.LogRecord:
    """A record as a logger makes it: the standard attributes, then the extras."""
    fields: dict[str, object] = {"name": "orderwire.test", "levelno": 20, "levelname": "INFO"}
    fields.update(attributes)
    return logging.makeLogRecord(fields)


def records() -> Iterator[tuple[str, logging.LogRecord]]:
    failure = a_failure()
    logger = logging.getLogger("orderwire.pipeline")
    yield "a pipeline line", logger.makeRecord(
        logger.name, logging.INFO, "(unknown file)", 0, "published %s", ("OrderPlaced",), None,
        extra={"event": "event.published", "event_id": "8a1b2c3d", "request_id": "req-1"},
    )
    yield "no extras, no request id", record(msg="plain")
    yield "arguments and non-ASCII", record(msg="m %s %d", args=("é ☃ 😀", 3))
    yield "a request id from the context", _in_context("req-ctx", lambda: record(msg="ctx"))
    yield "an explicit request id wins", _in_context(
        "ctx", lambda: record(msg="x", request_id="explicit")
    )
    yield "every JSON type in extras", record(
        msg="types", count=2, ratio=0.1, big=10**30, yes=True, nothing=None,
        items=[1, "two", (3, 4)], nested={"a": {"b": ["c"]}, "é": "ü"}, nan=float("nan"),
        inf=float("inf"),
    )
    yield "values JSON cannot encode", record(
        msg="odd", when=datetime.datetime(2026, 11, 23, 10, 0, 0, 123456,
                                          tzinfo=datetime.UTC),
        naive=datetime.datetime(2026, 11, 23, 10, 0), day=datetime.date(2026, 11, 23),
        clock=datetime.time(10, 0, 1), id=uuid.UUID(int=7), price=decimal.Decimal("12.50"),
        raw=b"\x00\xffbytes", buffer=bytearray(b"ab"), colour=Colour.RED, colours=Colour,
        money=Money("12.50", "EUR"), kind=ValueError, error=KeyError("missing"),
        traceback=failure[2], tags={"only"}, thing=object(),
        unprintable=Unprintable(), unrepresentable=Unrepresentable(),
    )
    yield "extras that share a field's name", record(
        msg="renames", time="not the time", level="not the level", logger="not the logger",
        process="not the role",
    )
    yield "private and reserved attributes are left out", record(
        msg="hidden", _private=1, __dunder=2, funcName="f", lineno=3, thread=4,
    )
    yield "an exception", record(levelno=40, levelname="ERROR", msg="failed", exc_info=failure)
    yield "an exception already formatted", record(msg="failed", exc_text="Traceback: cached")
    yield "a stack", record(msg="where", stack_info="Stack (most recent call last):\n  here")
    yield "an exception and a stack", record(
        msg="both", exc_info=failure, stack_info="Stack:\n  there"
    )
    yield "a dict message", record(msg={"a": 1, "é": ["ü"]})
    yield "a dict message naming fields", record(
        msg={"name": "dict name", "process": "dict role", "asctime": "dict time",
             "levelname": "dict level", "message": "dict message", "exc_info": "dict exc"},
        exc_info=failure, event="extra after the dict",
    )
    yield "a dict message with an empty exc_info", record(
        msg={"exc_info": "", "stack_info": None}, exc_info=failure, stack_info="Stack:\n  s"
    )
    yield "a dict message and an extra of the same key", record(msg={"k": 1}, k=2)
    task = {"id": "req-9", "name": "orderwire.PlaceOrder", "runtime": 0.01, "args": "()"}
    celery = logging.getLogger("celery.app.trace")
    yield "Celery's succeeded line", celery.makeRecord(
        celery.name, logging.INFO, "(unknown file)", 0,
        "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
        ({**task, "return_value": None},), None, extra={"data": task},
    )
    other = {"id": "job-1", "name": "billing.book_payment"}
    yield "another application's task", record(
        name="celery.worker.strategy", msg="Task %(name)s[%(id)s] received", args=other,
        data=other,
    )
    yield "a gunicorn line", record(
        name="gunicorn.error", msg="Booting worker with pid: %s", args=(1234,)
    )
    yield "a warning", record(levelno=30, levelname="WARNING", msg="careful")
    odd_keys: dict[Any, str] = {1: "one", None: "none", 2.5: "float", False: "no", "z": "z"}
    yield "keys that are not strings", logger.makeRecord(
        logger.name, logging.INFO, "(unknown file)", 0, "odd keys", (), None, extra=odd_keys
    )
    yield "a level and a logger that are not strings", record(levelname=20, name=None)
    yield "a message that is not a string", NumberRecord("n", 20, "", 0, "x", (), None)
    yield "milliseconds given by hand", record(msg="ms", msecs=12.7)
    yield "milliseconds out of range", record(msg="ms", msecs=1234.0)
    for label, created in [
        ("the first millisecond of a second", NOON_ISH),
        ("the last millisecond of a second", NOON_ISH + 0.9995),
        ("a year's last second", 1830297599.5),
        ("the epoch", 0.25),
    ]:
        at = record(msg=label)
        at.created, at.msecs = created, int((created - int(created)) * 1000) + 0.0
        yield label, at


def _in_context(request_id: str, make: Callable[[], logging.LogRecord]) -> logging.LogRecord:
    token = request_id_var.set(request_id)
    try:
        return filtered(make())  # the filter reads the context
    finally:
        request_id_var.reset(token)


def filtered(made: logging.LogRecord) -> logging.LogRecord:
    RequestIdFilter().filter(made)  # as orderwire's handler does before formatting
    return made


CASES = [(label, filtered(made)) for label, made in records()] + [
    ("a record no filter has seen", record(msg="raw")),  # its request_id attribute is missing
]


@pytest.mark.parametrize(("label", "original"), CASES, ids=[label for label, _ in CASES])
def test_a_line_is_byte_for_byte_what_python_json_logger_writes(
    label: str, original: logging.LogRecord
) -> None:
    ours, theirs = copy.copy(original), copy.copy(original)
    assert json_formatter("worker").format(ours) == the_librarys("worker").format(theirs)
    # What the library leaves on the record, for any handler that formats it after ours.
    assert (ours.message, ours.asctime) == (theirs.message, theirs.asctime)


def test_one_formatter_writes_every_line_in_turn_as_the_library_does() -> None:
    """As in a process: one formatter, lines from different seconds one after another (the
    time's seconds are cached), each twice; nothing of one line is left in the next."""
    ours, theirs = json_formatter("worker"), the_librarys("worker")
    for _ in range(2):
        for _, original in CASES:
            assert ours.format(copy.copy(original)) == theirs.format(copy.copy(original))


def test_a_line_s_exact_text() -> None:
    """One line spelled out, so a change in the reference itself would show too."""
    line = record(msg="published %s", args=("OrderPlaced",), event="event.published",
                  request_id="req-1")
    line.created, line.msecs = NOON_ISH + 0.042, 42.0
    assert json_formatter("worker").format(line) == (
        '{"time": "2026-11-23T10:00:00.042Z", "level": "INFO", "logger": "orderwire.test",'
        ' "message": "published OrderPlaced", "request_id": "req-1", "process": "worker",'
        ' "event": "event.published"}'
    )


def test_gunicorns_lines_use_the_same_formatter() -> None:
    """gunicorn builds the formatter from logconfig_dict (`"()"` names the factory)."""
    settings = dict(gunicorn_conf.logconfig_dict["formatters"]["json"])  # type: ignore[index]
    assert settings.pop("()") == "orderwire.logs.json_formatter"
    formatter = json_formatter(**settings)
    line = record(name="gunicorn.error", msg="Worker exiting (pid: %s)", args=(99,))
    assert formatter.format(copy.copy(line)) == the_librarys("web").format(copy.copy(line))


def test_a_circular_extra_fails_as_the_library_fails() -> None:
    """logging reports a line it cannot format (Handler.handleError); neither loops."""
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        the_librarys("worker").format(record(msg="loop", loop=loop))
    with pytest.raises(ValueError, match="Circular reference"):
        json_formatter("worker").format(record(msg="loop", loop=loop))
