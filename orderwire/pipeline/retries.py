"""Retry behaviour: tells business rejections from transient failures, around each attempt.

- A `DomainError` ends the command `rejected` at once: retrying will not change the answer.
- Anything else (database locked or unavailable, a concurrent change, a bug) is retried
  in-process with exponential backoff and full jitter, up to `max_attempts`, then the
  command ends `failed`. Attempts are counted inside (orderwire.pipeline.attempts), where
  a crash cannot undo the count: a command redelivered after its budget fails at once.
- A failure before the attempt was even counted (the command log or the attempt counter
  unreachable) is no attempt of the command: it is retried the same way, and if it
  persists the exception leaves the task; the sweeper re-enqueues the command later.

Retrying in-process instead of with Celery's `retry(countdown=...)` is deliberate: a
countdown is an ETA task, which the Redis transport holds unacknowledged in the
worker and redelivers after the visibility timeout.
"""

import logging
import random
import time
from dataclasses import dataclass

from domain.errors import DomainError
from orderwire.pipeline.execution import Execution, Outcome, Step
from orderwire.pipeline.verdicts import Verdicts

log = logging.getLogger("orderwire.pipeline")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.1
    max_delay: float = 2.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform between 0 and the capped exponential step."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


class RetryTransient:
    def __init__(
        self,
        verdicts: Verdicts,
        policy: RetryPolicy,
        *,
        give_up_on: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.verdicts = verdicts
        self.policy = policy
        # Failures not worth another attempt in this task (Celery's soft time limit: the
        # hard limit is near, and retrying here would only be killed by it).
        self.give_up_on = give_up_on

    def __call__(self, execution: Execution, next_step: Step) -> Outcome:
        unreachable = 0
        while True:
            counted_before = execution.attempt
            try:
                return next_step(execution)
            except DomainError as error:
                return self.verdicts.reject(execution, error.code, error.message)
            except self.give_up_on as error:
                return self.verdicts.fail(
                    execution, "time_limit_exceeded", f"gave up: {type(error).__name__}"
                )
            except Exception as error:
                if execution.attempt == counted_before:
                    unreachable += 1
                    if unreachable >= self.policy.max_attempts:
                        raise
                    log.warning("command log or attempt counter unreachable", exc_info=True)
                    time.sleep(self.policy.delay(unreachable))
                    continue
                attempt = execution.attempt
                log.warning(
                    "attempt %d failed: %s",
                    attempt,
                    type(error).__name__,
                    exc_info=True,
                    extra={"event": "command.attempt_failed", "attempt": attempt},
                )
                if attempt >= self.policy.max_attempts:
                    return self.verdicts.fail(
                        execution,
                        "attempts_exhausted",
                        f"gave up after {attempt} attempts: {type(error).__name__}",
                    )
                time.sleep(self.policy.delay(attempt))
