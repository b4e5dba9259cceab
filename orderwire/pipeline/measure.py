"""Metrics behaviour: how long a command took, recorded once, by the delivery that finished it."""

import time

from orderwire.metrics import MetricsRecorder
from orderwire.pipeline.execution import Execution, Outcome, Step


class MeasureCommand:
    """Sits after the duplicate check, so a redelivered, already finished command is not
    counted again; and it records only an outcome that carries event ids, because every
    conclusion writes at least one event (the handler's, CommandRejected or CommandFailed)
    while an outcome merely read back from the log has none."""

    def __init__(self, metrics: MetricsRecorder) -> None:
        self.metrics = metrics

    def __call__(self, execution: Execution, next_step: Step) -> Outcome:
        started = time.perf_counter()
        outcome = next_step(execution)
        if outcome.event_ids and execution.record is not None:
            self.metrics.command_finished(
                execution.command_name,
                str(outcome.status),
                execution_seconds=time.perf_counter() - started,
                accepted_at=execution.record["accepted_at"],
            )
        return outcome
