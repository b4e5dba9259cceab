"""Idempotency behaviour: a command that already has a final status is not run again.

This is the cheap early exit for redelivered and duplicated tasks. The guarantee
itself is in the transaction behaviour, which re-checks the status under a lock in
the same transaction that applies the effect.
"""

import logging

from sqlalchemy import Engine

from orderwire.db import command_log
from orderwire.db.engine import read_only
from orderwire.logs import request_id_var
from orderwire.pipeline.execution import Execution, Outcome, Step

log = logging.getLogger("orderwire.pipeline")


class SkipFinished:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, execution: Execution, next_step: Step) -> Outcome:
        with read_only(self.engine).connect() as connection:
            execution.record = command_log.get(connection, execution.command_id)
        if execution.record is None:
            log.error("no such command in the log", extra={"event": "command.unknown"})
            return Outcome("unknown")
        # The logging behaviour could only name the command id; from here on every line
        # names the request id the client knows (reset with the logging behaviour's token).
        request_id_var.set(execution.request_id)
        if execution.record["status"] in command_log.FINAL:
            log.info("already finished: nothing to do", extra={"event": "command.duplicate"})
            return Outcome.of_record(execution.record)
        return next_step(execution)
