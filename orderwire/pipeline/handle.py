"""The pipeline's last step: hand the command to the bus, inside the open unit of work."""

from orderwire.bus import MessageBus
from orderwire.db.command_log import CommandStatus
from orderwire.pipeline.execution import Execution, Outcome


class HandleCommand:
    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus

    def __call__(self, execution: Execution) -> Outcome:
        assert execution.command is not None and execution.uow is not None
        result, execution.recorded = self.bus.handle(
            execution.command, execution.uow, execution.context
        )
        return Outcome(CommandStatus.SUCCEEDED, result=result)
