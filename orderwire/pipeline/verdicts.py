"""Ending a command without its handler's effect: rejected (a business rule) or failed (gave up).

Either way the status change and the event that tells the page (`CommandRejected`,
`CommandFailed`) commit together, and only if the command was still unfinished.
"""

from collections.abc import Callable

from sqlalchemy import Engine

from domain.events import CommandFailed, CommandRejected, Event
from orderwire.db import command_log, outbox
from orderwire.db.command_log import CommandStatus
from orderwire.pipeline.execution import Execution, Outcome

PublishNow = Callable[[list[str]], None]


class Verdicts:
    def __init__(self, engine: Engine, publish_now: PublishNow) -> None:
        self.engine = engine
        self.publish_now = publish_now

    def reject(self, execution: Execution, code: str, message: str) -> Outcome:
        order_id = (execution.record or {}).get("order_id")
        event = CommandRejected(execution.command_name, code, message, order_id)
        return self._conclude(execution, CommandStatus.REJECTED, code, message, event)

    def fail(self, execution: Execution, code: str, message: str) -> Outcome:
        event = CommandFailed(execution.command_name, code, message)
        return self._conclude(execution, CommandStatus.FAILED, code, message, event)

    def _conclude(
        self,
        execution: Execution,
        status: CommandStatus,
        code: str,
        message: str,
        event: Event,
    ) -> Outcome:
        error = {"code": code, "message": message}
        with self.engine.connect() as connection, connection.begin():
            record = command_log.get(connection, execution.command_id, lock=True)
            if record is None or record["status"] in command_log.FINAL:
                return Outcome.of_record(record) if record else Outcome("unknown")
            command_log.finish(connection, execution.command_id, status, error=error)
            stored = outbox.append(
                connection,
                event,
                # The command itself is the aggregate of its verdict: version 1, once. Its
                # command id, not its request id, which another session may use too.
                aggregate_id=execution.command_id,
                aggregate_version=1,
                request_id=execution.request_id,
                # Only the sender's page: a rejection is an answer to whoever asked.
                audience={record["session_id"]} if record["session_id"] else set(),
            )
        self.publish_now([stored.event_id])
        return Outcome(status, error=error, event_ids=[stored.event_id])
