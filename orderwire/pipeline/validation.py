"""Validation behaviour: rebuild the domain command, which validates itself on construction.

The web validated the request already; this catches a payload that no longer
constructs (a stored command from an older version, a hand-edited row). It runs inside
the command's transaction, so the rejection commits in it.
"""

from domain.errors import InvalidCommand
from orderwire.command_payloads import from_payload
from orderwire.command_status import CommandStatus
from orderwire.pipeline.execution import Execution, Outcome, Step
from orderwire.pipeline.verdicts import Verdicts


class BuildCommand:
    def __init__(self, verdicts: Verdicts) -> None:
        self.verdicts = verdicts

    def __call__(self, execution: Execution, next_step: Step) -> Outcome:
        assert execution.record is not None
        try:
            execution.command = from_payload(
                execution.record["command"], execution.record["payload"]
            )
        except InvalidCommand as error:
            return self.verdicts.conclude(
                execution.uow, execution, CommandStatus.REJECTED, error.code, error.message
            )
        return next_step(execution)
