"""The command pipeline: behaviours wrapped around the handler, outermost first.

Each behaviour is a callable `(execution, next_step) -> Outcome`: it may act before
and after the rest of the pipeline, or answer without calling it. `compose` nests
them around the terminal step, as MediatR's pipeline behaviours do.
"""

from collections.abc import Sequence
from functools import partial
from typing import Protocol

from orderwire.pipeline.execution import Execution, Outcome, Step


class Behaviour(Protocol):
    """A step around the rest of the pipeline; `compose` passes that rest as `next_step`."""

    def __call__(self, execution: Execution, next_step: Step) -> Outcome: ...


def compose(behaviours: Sequence[Behaviour], terminal: Step) -> Step:
    step = terminal
    for behaviour in reversed(behaviours):
        step = partial(behaviour, next_step=step)
    return step


__all__ = ["Behaviour", "Execution", "Outcome", "Step", "compose"]
