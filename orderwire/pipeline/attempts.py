"""Attempt behaviours: count each attempt where a rollback cannot undo the count, and end a
command that has had all its attempts.

`CountAttempt` runs inside the command's transaction, after the row is locked and found
unfinished, so a duplicate delivery that finds the command done counts nothing. The
count itself lives outside the transaction (in Redis, `orderwire.attempt_counter`): a
handler that kills its process every time rolls its transaction back every time, and a
count kept there would never grow. The log's own count (committed with each verdict) is
the floor, so a counter that lost its memory cannot hand out attempts a command had.

`CountInLogWithoutCounter` sits outside the transaction for when the counter cannot be
reached (Redis down while a command runs): it counts that attempt in the command log
instead, in a short transaction of its own (so a crash cannot undo it either), and goes
again. Slower, and only then.
"""

from collections.abc import Callable

from orderwire.command_status import CommandStatus
from orderwire.pipeline.execution import Execution, Outcome, Step
from orderwire.pipeline.unit_of_work import UnitOfWorkFactory
from orderwire.pipeline.verdicts import Verdicts


class AttemptNotCounted(Exception):
    """The attempt counter could not be reached; nothing of this attempt was done."""


class CountAttempt:
    def __init__(
        self, count: Callable[[str], int], verdicts: Verdicts, *, max_attempts: int
    ) -> None:
        self.count = count
        self.verdicts = verdicts
        self.max_attempts = max_attempts

    def __call__(self, execution: Execution, next_step: Step) -> Outcome:
        assert execution.uow is not None and execution.record is not None
        logged = execution.record["attempts"]
        if execution.counted_in_log:  # this attempt is in the log's count already
            execution.attempt, execution.counted_in_log = logged, False
        else:
            try:
                counted = self.count(execution.command_id)
            except Exception as error:
                raise AttemptNotCounted(str(error)) from error
            execution.attempt = max(counted, logged + 1)
        if execution.attempt > self.max_attempts:
            return self.verdicts.conclude(
                execution.uow,
                execution,
                CommandStatus.FAILED,
                "attempts_exhausted",
                f"gave up after {execution.attempt - 1} attempts",
            )
        # Nothing to write here: the count is in Redis (or already in the log), and the
        # outcome written in this same transaction records it. A `running` status written
        # now would be seen by no one before the commit that replaces it.
        return next_step(execution)


class CountInLogWithoutCounter:
    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self.unit_of_work = unit_of_work

    def __call__(self, execution: Execution, next_step: Step) -> Outcome:
        try:
            return next_step(execution)
        except AttemptNotCounted:
            with self.unit_of_work() as uow:
                record = uow.commands.lock(execution.command_id)
                settled = Outcome.if_settled(record)
                if settled is not None:
                    return settled
                assert record is not None
                uow.commands.start(execution.command_id, record["attempts"] + 1)
                uow.commit()
            execution.counted_in_log = True
            return next_step(execution)
