"""Ending a command without its handler's effect: rejected (a business rule) or failed (gave up).

Either way the status change and the event that tells the page (`CommandRejected`,
`CommandFailed`) commit together, and only if the command was still unfinished.
`conclude` writes the verdict in a unit of work that is already open (the command's
own, when nothing of the handler's was written); `reject` and `fail` open one of their
own (after the attempt's transaction rolled back).
"""

from domain.events import CommandFailed, CommandRejected
from orderwire.command_status import CommandStatus
from orderwire.pipeline.execution import Execution, Outcome
from orderwire.pipeline.unit_of_work import PipelineUnitOfWork, PublishNow, UnitOfWorkFactory


class Verdicts:
    def __init__(self, unit_of_work: UnitOfWorkFactory, publish_now: PublishNow) -> None:
        self.unit_of_work = unit_of_work
        self.publish_now = publish_now

    def reject(self, execution: Execution, code: str, message: str) -> Outcome:
        return self._in_own_unit_of_work(execution, CommandStatus.REJECTED, code, message)

    def fail(self, execution: Execution, code: str, message: str) -> Outcome:
        return self._in_own_unit_of_work(execution, CommandStatus.FAILED, code, message)

    def conclude(
        self,
        uow: PipelineUnitOfWork,
        execution: Execution,
        status: CommandStatus,
        code: str,
        message: str,
    ) -> Outcome:
        """Write the verdict into `uow`, whose caller commits it; the command's row is
        locked there and was found unfinished."""
        record = execution.record or {}
        error = {"code": code, "message": message}
        event: CommandRejected | CommandFailed
        if status == CommandStatus.REJECTED:
            event = CommandRejected(execution.command_name, code, message, record.get("order_id"))
        else:
            event = CommandFailed(execution.command_name, code, message)
        uow.commands.finish(
            execution.command_id, status, error=error, attempts=execution.attempt or None
        )
        stored = uow.outbox.append(
            event,
            # The command itself is the aggregate of its verdict: version 1, once. Its
            # command id, not its request id, which another session may use too.
            aggregate_id=execution.command_id,
            aggregate_version=1,
            request_id=execution.request_id,
            # Only the sender's page: a rejection is an answer to whoever asked.
            audience={record["session_id"]} if record.get("session_id") else set(),
        )
        return Outcome(status, error=error, event_ids=[stored.event_id])

    def _in_own_unit_of_work(
        self, execution: Execution, status: CommandStatus, code: str, message: str
    ) -> Outcome:
        with self.unit_of_work() as uow:
            record = uow.commands.lock(execution.command_id)
            settled = Outcome.if_settled(record)
            if settled is not None:
                return settled
            execution.record = record
            outcome = self.conclude(uow, execution, status, code, message)
            appended = list(uow.outbox.appended)
            uow.commit()
        self.publish_now(appended)
        return outcome
