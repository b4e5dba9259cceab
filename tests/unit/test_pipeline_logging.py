"""The logging behaviour: everything logged while a command runs carries its request id."""

import logging
from collections.abc import Iterator

import pytest

from orderwire.logs import RequestIdFilter, request_id_var
from orderwire.pipeline.execution import Execution, Outcome
from orderwire.pipeline.logs import log_command


class Collect(logging.Handler):
    """Keeps (message, request id) of each record, as orderwire's own handler stamps them."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RequestIdFilter())
        self.lines: dict[str, str | None] = {}

    def emit(self, record: logging.LogRecord) -> None:
        # RequestIdFilter adds request_id to the record; LogRecord's type does not list it.
        self.lines[record.getMessage()] = record.request_id  # type: ignore[attr-defined]


@pytest.fixture
def collected() -> Iterator[Collect]:
    handler, logger = Collect(), logging.getLogger("orderwire")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_lines_logged_inside_the_command_carry_its_request_id_and_it_is_reset_after(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen_inside: list[str | None] = []

    def handler_step(execution: Execution) -> Outcome:
        seen_inside.append(request_id_var.get())
        logging.getLogger("orderwire.handlers").info("doing the work")
        return Outcome("succeeded")

    token = request_id_var.set("outer-request")
    try:
        with caplog.at_level(logging.INFO, logger="orderwire"):
            outcome = log_command(Execution("r-77", attempt=0), handler_step)
        assert request_id_var.get() == "outer-request"
    finally:
        request_id_var.reset(token)

    assert outcome.status == "succeeded"
    assert seen_inside == ["r-77"]
    events = [getattr(record, "event", None) for record in caplog.records]
    assert events[0] == "command.started" and events[-1] == "command.finished"
    finished = caplog.records[-1]
    # The pipeline's `extra` fields, which LogRecord's type does not list:
    assert finished.request_id == "r-77"  # type: ignore[attr-defined]
    assert finished.status == "succeeded"  # type: ignore[attr-defined]
    assert finished.duration_ms >= 0  # type: ignore[attr-defined]


def test_the_request_id_filter_stamps_every_line_of_a_command(collected: Collect) -> None:
    def handler_step(execution: Execution) -> Outcome:
        logging.getLogger("orderwire.handlers").info("doing the work")
        return Outcome("succeeded")

    log_command(Execution("r-88"), handler_step)
    logging.getLogger("orderwire.after").info("after the command")

    assert collected.lines["command started"] == "r-88"
    assert collected.lines["doing the work"] == "r-88"
    assert collected.lines["command succeeded"] == "r-88"
    assert collected.lines["after the command"] is None


def test_a_crashing_command_is_logged_and_the_error_still_propagates(
    caplog: pytest.LogCaptureFixture, collected: Collect
) -> None:
    def handler_step(execution: Execution) -> Outcome:
        raise RuntimeError("boom")

    with caplog.at_level(logging.INFO, logger="orderwire"), pytest.raises(RuntimeError):
        log_command(Execution("r-99"), handler_step)

    [crashed] = [r for r in caplog.records if getattr(r, "event", "") == "command.crashed"]
    assert crashed.exc_info is not None
    assert collected.lines["command crashed"] == "r-99"
    assert request_id_var.get() is None
