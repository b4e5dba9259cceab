"""The pipeline's last step: hand the command to the bus, inside the open unit of work."""

from orderwire.bus import MessageBus
from orderwire.command_status import CommandStatus
from orderwire.faults import fault_point
from orderwire.pipeline.execution import Execution, Outcome


class HandleCommand:
    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus

    def __call__(self, execution: Execution) -> Outcome:
        assert execution.command is not None and execution.uow is not None
        fault_point("handler.start")  # the attempt is counted, the handler not yet run
        result, execution.recorded = self.bus.handle(
            execution.command, execution.uow, execution.context
        )
        return Outcome(CommandStatus.SUCCEEDED, result=result)
