"""The pipeline's pure parts: how behaviours nest, and how long a retry waits."""

import pytest

from orderwire.pipeline import Behaviour, compose
from orderwire.pipeline.execution import Execution, Outcome, Step
from orderwire.pipeline.retries import RetryPolicy


def recording(name: str, trace: list[str]) -> Behaviour:
    def behaviour(execution: Execution, next_step: Step) -> Outcome:
        trace.append(f"{name} before")
        outcome = next_step(execution)
        trace.append(f"{name} after")
        return outcome

    return behaviour


def test_behaviours_run_outermost_first_and_unwind_in_reverse() -> None:
    trace: list[str] = []

    def terminal(execution: Execution) -> Outcome:
        trace.append("handler")
        return Outcome("succeeded", result={"request_id": execution.request_id})

    pipeline = compose([recording("log", trace), recording("retry", trace)], terminal)
    outcome = pipeline(Execution("r-1"))

    assert trace == ["log before", "retry before", "handler", "retry after", "log after"]
    assert outcome == Outcome("succeeded", result={"request_id": "r-1"})


def test_a_behaviour_that_answers_itself_keeps_the_rest_from_running() -> None:
    trace: list[str] = []

    def short_circuit(execution: Execution, next_step: Step) -> Outcome:
        return Outcome("rejected", error={"code": "nope", "message": "no"})

    def terminal(execution: Execution) -> Outcome:
        trace.append("handler")
        return Outcome("succeeded")

    outcome = compose([recording("outer", trace), short_circuit], terminal)(Execution("r-2"))

    assert outcome.status == "rejected"
    assert trace == ["outer before", "outer after"]


def test_an_empty_pipeline_is_just_the_terminal_step() -> None:
    def terminal(execution: Execution) -> Outcome:
        return Outcome("succeeded")

    assert compose([], terminal)(Execution("r-3")) == Outcome("succeeded")


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 8, 20])
def test_a_retry_delay_never_exceeds_its_capped_exponential_step(attempt: int) -> None:
    policy = RetryPolicy(max_attempts=20, base_delay=0.1, max_delay=2.0)
    ceiling = min(2.0, 0.1 * 2 ** (attempt - 1))
    delays = [policy.delay(attempt) for _ in range(200)]
    assert all(0 <= delay <= ceiling for delay in delays)


def test_retry_delays_grow_exponentially_until_the_cap() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=2.0)
    largest = [max(policy.delay(attempt) for _ in range(300)) for attempt in (1, 2, 3, 6)]
    # The largest of many full-jitter samples lands near its ceiling: 0.1, 0.2, 0.4, 2.0 (capped).
    assert 0.08 < largest[0] <= 0.1
    assert 0.16 < largest[1] <= 0.2
    assert 0.32 < largest[2] <= 0.4
    assert 1.6 < largest[3] <= 2.0


def test_retry_delays_are_jittered_so_retries_do_not_move_in_lockstep() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=2.0)
    delays = [policy.delay(3) for _ in range(50)]
    assert len(set(delays)) > 40
    assert min(delays) < 0.2 < max(delays)
