"""Transaction behaviour: the command's effect, its events and its status commit together.

Inside one transaction: lock the command's log row and re-check that it is
unfinished (two deliveries of one command serialise here, and the second finds
it done), run the rest of the pipeline (the handler and the in-transaction
subscribers, through the bus), store every event in the outbox, mark the command
succeeded, commit. Then publish the events at once (the fast path); whatever
that cannot publish, the relay publishes later.
"""

from sqlalchemy import Engine

from orderwire.db import command_log, outbox
from orderwire.db.command_log import CommandStatus
from orderwire.db.unit_of_work import SqlAlchemyUnitOfWork
from orderwire.faults import fault_point
from orderwire.pipeline.execution import Execution, Outcome, Step
from orderwire.pipeline.verdicts import PublishNow


class RunInTransaction:
    def __init__(self, engine: Engine, publish_now: PublishNow) -> None:
        self.engine = engine
        self.publish_now = publish_now

    def __call__(self, execution: Execution, next_step: Step) -> Outcome:
        with SqlAlchemyUnitOfWork(self.engine) as uow:
            record = command_log.get(uow.connection, execution.command_id, lock=True)
            if record is None or record["status"] in command_log.FINAL:
                return Outcome.of_record(record) if record else Outcome("unknown")
            execution.uow = uow
            fault_point("handler.start")
            handled = next_step(execution)
            uow.save_aggregates()
            audience = uow.audience(execution.context.session_id)
            event_ids = [
                outbox.append(
                    uow.connection,
                    item.event,
                    aggregate_id=item.aggregate_id,
                    aggregate_version=item.aggregate_version,
                    request_id=execution.request_id,
                    audience=audience,
                ).event_id
                for item in execution.recorded
            ]
            command_log.finish(
                uow.connection, execution.command_id, CommandStatus.SUCCEEDED, result=handled.result
            )
            fault_point("transaction.before_commit")
            uow.commit()
        self.publish_now(event_ids)
        return Outcome(CommandStatus.SUCCEEDED, result=handled.result, event_ids=event_ids)
