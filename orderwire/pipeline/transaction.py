"""Transaction behaviour: one write transaction per attempt, in which everything commits together.

Lock the command's log row and answer from it if the command is missing or final (two
deliveries of one command serialise on this lock, and the second finds it done); run the
rest of the pipeline inside (count the attempt, build the command, the handler and the
in-transaction subscribers, through the bus); store every event the handler set off in
the outbox and mark the command succeeded (or keep the verdict an inner behaviour wrote
instead); commit. Then publish the events at once (the fast path); whatever that cannot
publish, the relay publishes later.
"""

from dataclasses import replace

from orderwire.command_status import CommandStatus
from orderwire.faults import fault_point
from orderwire.logs import request_id_var
from orderwire.pipeline.execution import Execution, Outcome, Step
from orderwire.pipeline.unit_of_work import PublishNow, UnitOfWorkFactory


class RunInTransaction:
    def __init__(self, unit_of_work: UnitOfWorkFactory, publish_now: PublishNow) -> None:
        self.unit_of_work = unit_of_work
        self.publish_now = publish_now

    def __call__(self, execution: Execution, next_step: Step) -> Outcome:
        token = request_id_var.set(request_id_var.get())
        try:
            return self._run(execution, next_step)
        finally:
            request_id_var.reset(token)

    def _run(self, execution: Execution, next_step: Step) -> Outcome:
        with self.unit_of_work() as uow:
            record = uow.commands.lock(execution.command_id)
            settled = Outcome.if_settled(record)
            if settled is not None:
                return settled
            execution.record, execution.uow = record, uow
            # The delivery may have named only the command id; from here on every line of
            # the attempt names the request id the client knows.
            request_id_var.set(execution.request_id)
            outcome = next_step(execution)
            if outcome.status == CommandStatus.SUCCEEDED:  # the handler ran: keep what it did
                uow.save_aggregates()
                uow.outbox.append_all(
                    [
                        (item.event, item.aggregate_id, item.aggregate_version)
                        for item in execution.recorded
                    ],
                    request_id=execution.request_id,
                    audience=uow.audience(execution.context.session_id),
                )
                uow.commands.finish(
                    execution.command_id,
                    CommandStatus.SUCCEEDED,
                    result=outcome.result,
                    attempts=execution.attempt or None,
                )
            # Otherwise an inner behaviour wrote a verdict into this unit of work instead.
            appended = list(uow.outbox.appended)
            fault_point("transaction.before_commit")
            uow.commit()
        fault_point("transaction.after_commit")  # committed, not yet handed to the fast path
        self.publish_now(appended)
        return replace(outcome, event_ids=[stored.event_id for stored in appended])
