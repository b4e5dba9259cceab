"""JSON log lines that carry the request id, wherever in the process they are logged."""

import io
import json
import logging
import re
from collections.abc import Callable, Iterator

import pytest

from orderwire.logs import configure_logging, request_id_var


@pytest.fixture
def lines() -> Iterator[Callable[[], list[dict]]]:
    """What configure_logging's handler writes, one parsed JSON object per line."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("INFO", process="test")
    written = io.StringIO()
    [ours] = [handler for handler in root.handlers if getattr(handler, "_orderwire", False)]
    assert isinstance(ours, logging.StreamHandler)
    ours.setStream(written)

    def read() -> list[dict]:
        text, _ = written.getvalue(), written.truncate(0)
        written.seek(0)
        return [json.loads(line) for line in text.splitlines()]

    yield read
    root.handlers[:], root.level = saved


def test_each_line_is_a_json_object_with_the_standard_fields(lines) -> None:
    logging.getLogger("orderwire.test").info("hello %s", "world", extra={"event": "greeting"})
    [line] = lines()
    assert line["message"] == "hello world"
    assert line["level"] == "INFO" and line["logger"] == "orderwire.test"
    assert line["process"] == "test" and line["event"] == "greeting"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


def test_the_request_id_comes_from_the_context(lines) -> None:
    token = request_id_var.set("req-42")
    try:
        logging.getLogger("orderwire.test").info("inside a command")
    finally:
        request_id_var.reset(token)
    logging.getLogger("orderwire.test").info("outside")
    inside, outside = lines()
    assert inside["request_id"] == "req-42"
    assert outside["request_id"] is None


def test_an_explicit_request_id_wins_over_the_context(lines) -> None:
    token = request_id_var.set("the-websocket")
    try:
        logging.getLogger("orderwire.live").info("delivered", extra={"request_id": "req-7"})
    finally:
        request_id_var.reset(token)
    assert lines()[0]["request_id"] == "req-7"


def test_celerys_own_lines_about_a_command_task_carry_its_request_id(lines) -> None:
    task = {"id": "req-9", "name": "orderwire.PlaceOrder"}
    logging.getLogger("celery.worker.strategy").info(
        "Task %(name)s[%(id)s] received", task, extra={"data": task}
    )
    assert lines()[0]["request_id"] == "req-9"


def test_another_applications_task_id_is_not_taken_for_a_request_id(lines) -> None:
    task = {"id": "job-1", "name": "billing.book_payment"}
    logging.getLogger("celery.app.trace").info(
        "Task %(name)s[%(id)s] succeeded", task, extra={"data": task}
    )
    assert lines()[0]["request_id"] is None


def test_configuring_twice_leaves_one_orderwire_handler(lines) -> None:
    configure_logging("DEBUG", process="test")
    root = logging.getLogger()
    assert sum(getattr(handler, "_orderwire", False) for handler in root.handlers) == 1
    assert root.level == logging.DEBUG


def test_a_line_is_what_python_json_logger_itself_would_write() -> None:
    from pythonjsonlogger.json import JsonFormatter

    from orderwire.logs import json_formatter

    ours = json_formatter("test")
    theirs = JsonFormatter(
        "{asctime}{levelname}{name}{message}{request_id}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        static_fields={"process": "test"},
    )
    theirs.converter = ours.converter
    theirs.default_time_format, theirs.default_msec_format = "%Y-%m-%dT%H:%M:%S", "%s.%03dZ"
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        failure = sys.exc_info()
    records = [
        logging.makeLogRecord(
            {"name": "n", "levelno": 20, "levelname": "INFO", "msg": "m %s", "args": ("é",),
             "request_id": "r", "event": "e", "attempts": 2, "_private": 1}
        ),
        logging.makeLogRecord(
            {"name": "n", "levelno": 40, "levelname": "ERROR", "msg": "failed",
             "exc_info": failure, "request_id": None, "when": object()}
        ),
        logging.makeLogRecord({"name": "n", "msg": {"a": 1}, "request_id": None}),
    ]
    for record in records:
        assert ours.format(record) == theirs.format(record)


def test_configured_records_skip_the_callers_frame_thread_and_process(lines) -> None:
    captured: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    handler = Capture()
    logger = logging.getLogger("orderwire.test.attributes")
    logger.addHandler(handler)
    try:
        logger.info("hello", extra={"event": "greeting"})
    finally:
        logger.removeHandler(handler)
    [record] = captured
    assert (record.funcName, record.thread, record.process) == ("(unknown function)", None, None)
    assert lines()[0]["process"] == "test"  # the role's name, as before
