"""Logging behaviour: every line logged while a command runs carries its request id."""

import logging
import time

from orderwire.logs import request_id_var
from orderwire.pipeline.execution import Execution, Outcome, Step

log = logging.getLogger("orderwire.pipeline")


def log_command(execution: Execution, next_step: Step) -> Outcome:
    token = request_id_var.set(execution.request_id)
    started = time.perf_counter()
    log.info("command started", extra={"event": "command.started"})
    try:
        outcome = next_step(execution)
    except BaseException:
        log.exception("command crashed", extra={"event": "command.crashed"})
        raise
    finally:
        request_id_var.reset(token)
    log.info(
        "command %s",
        outcome.status,
        extra={
            "event": "command.finished",
            "request_id": execution.request_id,
            "command_id": execution.command_id,
            "command": execution.command_name,
            "status": str(outcome.status),
            "attempts": execution.attempt,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    return outcome
