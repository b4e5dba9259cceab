"""Each pipeline behaviour on its own, against a real command log (SQLite and PostgreSQL)."""

import pytest
from sqlalchemy import Engine

from domain.commands import PlaceOrder
from domain.errors import DomainError
from orderwire import registry
from orderwire.bus import MessageBus
from orderwire.command_payloads import from_payload
from orderwire.db import command_log
from orderwire.db.command_log import CommandStatus
from orderwire.pipeline.execution import Execution, Outcome
from orderwire.pipeline.handle import HandleCommand
from orderwire.pipeline.idempotency import SkipFinished
from orderwire.pipeline.retries import RetryPolicy, RetryTransient
from orderwire.pipeline.transaction import RunInTransaction
from orderwire.pipeline.validation import BuildCommand
from orderwire.pipeline.verdicts import Verdicts
from tests.recorded_commands import (
    command_row,
    order_count,
    place_order_payload,
    record_command,
    stored_events,
)

pytestmark = pytest.mark.integration


class NextStep:
    """The rest of the pipeline, played by a function that fails as often as it is told to."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls: list[Execution] = []
        self.attempts: list[int] = []  # the attempt number each call saw

    def __call__(self, execution: Execution) -> Outcome:
        self.calls.append(execution)
        self.attempts.append(execution.attempt)
        if self.failures:
            raise self.failures.pop(0)
        return Outcome(CommandStatus.SUCCEEDED, result={"ok": True})


@pytest.fixture
def published() -> list[str]:
    return []


@pytest.fixture
def verdicts(engine: Engine, published: list[str]) -> Verdicts:
    return Verdicts(engine, published.extend)


def loaded(engine: Engine, request_id: str) -> Execution:
    """An execution as SkipFinished leaves it: with its command log row."""
    return Execution(request_id, record=command_row(engine, request_id))


def finish(engine: Engine, request_id: str, status: CommandStatus) -> None:
    with engine.begin() as connection:
        command_log.start_attempt(connection, request_id)
        command_log.finish(connection, request_id, status, result={"done": True})


# --- SkipFinished ----------------------------------------------------------------------


def test_skip_finished_passes_an_unfinished_command_on_with_its_record(engine: Engine) -> None:
    request_id = record_command(engine, "PlaceOrder", place_order_payload(), session_id="s-1")
    rest = NextStep()

    outcome = SkipFinished(engine)(Execution(request_id), rest)

    assert outcome.status == CommandStatus.SUCCEEDED
    [execution] = rest.calls
    assert execution.record is not None
    assert execution.record["status"] == "accepted" and execution.record["session_id"] == "s-1"


@pytest.mark.parametrize("status", [CommandStatus.SUCCEEDED, CommandStatus.REJECTED])
def test_skip_finished_answers_a_finished_command_from_the_log_without_running_it(
    engine: Engine, status: CommandStatus
) -> None:
    request_id = record_command(engine, "PlaceOrder", place_order_payload())
    finish(engine, request_id, status)
    rest = NextStep()

    outcome = SkipFinished(engine)(Execution(request_id), rest)

    assert rest.calls == []
    assert outcome.status == status and outcome.result == {"done": True}


def test_skip_finished_does_nothing_for_a_command_that_was_never_recorded(engine: Engine) -> None:
    rest = NextStep()
    assert SkipFinished(engine)(Execution("never-recorded"), rest).status == "unknown"
    assert rest.calls == []


# --- BuildCommand ----------------------------------------------------------------------


def test_build_command_rebuilds_the_domain_command_from_the_stored_payload(
    engine: Engine, verdicts: Verdicts
) -> None:
    payload = place_order_payload(name="  Ada  ")
    request_id = record_command(engine, "PlaceOrder", payload)
    rest = NextStep()

    BuildCommand(verdicts)(loaded(engine, request_id), rest)

    [execution] = rest.calls
    assert isinstance(execution.command, PlaceOrder)
    assert execution.command.order_id == payload["order_id"]
    assert execution.command.customer_name == "Ada"


@pytest.mark.parametrize(
    ("command", "payload", "code"),
    [
        ("PlaceOrder", {**place_order_payload(), "lines": []}, "invalid_command"),
        ("PlaceOrder", {**place_order_payload(), "lines": [{"product": "tea"}]}, "invalid_command"),
        ("PayOrder", {"order_id": "not-a-uuid"}, "invalid_command"),
        ("CancelOrder", {"order_id": "3f0c52a4-4a67-4d3c-9f43-6a4d0b3b2d11"}, "invalid_command"),
        ("RefundOrder", {"order_id": "3f0c52a4-4a67-4d3c-9f43-6a4d0b3b2d11"}, "unknown_command"),
    ],
)
def test_build_command_rejects_a_payload_that_does_not_construct(
    engine: Engine,
    verdicts: Verdicts,
    published: list[str],
    command: str,
    payload: dict,
    code: str,
) -> None:
    request_id = record_command(engine, command, payload, session_id="s-2")
    rest = NextStep()

    outcome = BuildCommand(verdicts)(loaded(engine, request_id), rest)

    assert rest.calls == []
    assert outcome.status == CommandStatus.REJECTED and outcome.error["code"] == code
    row = command_row(engine, request_id)
    assert row["status"] == "rejected" and row["error"]["code"] == code
    [event] = stored_events(engine, command_id=request_id)
    assert event["type"] == "CommandRejected" and event["data"]["code"] == code
    assert event["audience"] == ["s-2"]
    assert published == [event["id"]]


# --- RetryTransient --------------------------------------------------------------------


def retrying(engine: Engine, verdicts: Verdicts, attempts: int = 3) -> RetryTransient:
    return RetryTransient(engine, verdicts, RetryPolicy(max_attempts=attempts, base_delay=0.001))


def test_a_domain_error_rejects_the_command_at_once_without_a_retry(
    engine: Engine, verdicts: Verdicts
) -> None:
    order_id = place_order_payload()["order_id"]
    request_id = record_command(engine, "PayOrder", {"order_id": order_id}, session_id="s-3")
    rest = NextStep(DomainError("this order is already paid", code="order_already_paid"))

    outcome = retrying(engine, verdicts)(loaded(engine, request_id), rest)

    assert len(rest.calls) == 1
    assert outcome.status == CommandStatus.REJECTED
    assert outcome.error == {"code": "order_already_paid", "message": "this order is already paid"}
    row = command_row(engine, request_id)
    assert (row["status"], row["attempts"]) == ("rejected", 1)
    [event] = stored_events(engine, command_id=request_id)
    assert event["type"] == "CommandRejected"
    assert event["data"]["code"] == "order_already_paid"


def test_a_transient_failure_is_retried_and_the_command_can_still_succeed(
    engine: Engine, verdicts: Verdicts
) -> None:
    request_id = record_command(engine, "PlaceOrder", place_order_payload())
    rest = NextStep(ConnectionError("redis down"), TimeoutError("database busy"))

    outcome = retrying(engine, verdicts)(loaded(engine, request_id), rest)

    assert outcome.status == CommandStatus.SUCCEEDED
    assert rest.attempts == [1, 2, 3]
    assert command_row(engine, request_id)["attempts"] == 3
    assert stored_events(engine, command_id=request_id) == []


def test_a_failure_that_persists_ends_failed_after_max_attempts_with_attempts_counted(
    engine: Engine, verdicts: Verdicts, published: list[str]
) -> None:
    request_id = record_command(engine, "PlaceOrder", place_order_payload(), session_id="s-4")
    rest = NextStep(*[RuntimeError("database is locked")] * 10)

    outcome = retrying(engine, verdicts, attempts=3)(loaded(engine, request_id), rest)

    assert rest.attempts == [1, 2, 3]
    assert outcome.status == CommandStatus.FAILED
    assert outcome.error["code"] == "attempts_exhausted"
    row = command_row(engine, request_id)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert row["finished_at"] is not None
    [event] = stored_events(engine, command_id=request_id)
    assert event["type"] == "CommandFailed" and event["audience"] == ["s-4"]
    assert event["data"]["command"] == "PlaceOrder"
    assert "RuntimeError" in event["data"]["message"]
    assert published == [event["id"]]


def test_a_soft_time_limit_ends_the_command_failed_without_another_attempt(
    engine: Engine, verdicts: Verdicts
) -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    request_id = record_command(engine, "PlaceOrder", place_order_payload(), session_id="s-5")
    rest = NextStep(SoftTimeLimitExceeded(), RuntimeError("never reached"))
    behaviour = RetryTransient(
        engine,
        verdicts,
        RetryPolicy(max_attempts=5, base_delay=0.001),
        give_up_on=(SoftTimeLimitExceeded,),
    )

    outcome = behaviour(loaded(engine, request_id), rest)

    assert len(rest.calls) == 1
    assert outcome.status == CommandStatus.FAILED
    assert outcome.error["code"] == "time_limit_exceeded"
    assert command_row(engine, request_id)["attempts"] == 1
    [event] = stored_events(engine, command_id=request_id)
    assert event["type"] == "CommandFailed" and event["audience"] == ["s-5"]


def test_a_command_redelivered_after_its_budget_is_spent_fails_without_running(
    engine: Engine, verdicts: Verdicts
) -> None:
    request_id = record_command(engine, "PlaceOrder", place_order_payload())
    with engine.begin() as connection:  # three earlier deliveries died without a verdict
        for _ in range(3):
            command_log.start_attempt(connection, request_id)
    rest = NextStep()

    outcome = retrying(engine, verdicts, attempts=3)(loaded(engine, request_id), rest)

    assert rest.calls == []
    assert outcome.status == CommandStatus.FAILED
    assert outcome.error == {"code": "attempts_exhausted", "message": "gave up after 3 attempts"}
    assert command_row(engine, request_id)["attempts"] == 4


def test_a_command_finished_meanwhile_by_another_delivery_is_not_run_again(
    engine: Engine, verdicts: Verdicts
) -> None:
    request_id = record_command(engine, "PlaceOrder", place_order_payload())
    stale = loaded(engine, request_id)  # loaded while still accepted...
    finish(engine, request_id, CommandStatus.SUCCEEDED)  # ...then another delivery finished it
    rest = NextStep()

    outcome = retrying(engine, verdicts)(stale, rest)

    assert rest.calls == []
    assert outcome.status == "succeeded"
    assert command_row(engine, request_id)["attempts"] == 1


def test_a_verdict_never_overwrites_a_final_status(engine: Engine, verdicts: Verdicts) -> None:
    request_id = record_command(engine, "PlaceOrder", place_order_payload())
    finish(engine, request_id, CommandStatus.SUCCEEDED)

    outcome = verdicts.fail(loaded(engine, request_id), "attempts_exhausted", "too late")

    assert outcome.status == "succeeded"
    assert command_row(engine, request_id)["status"] == "succeeded"
    assert stored_events(engine, command_id=request_id) == []


# --- RunInTransaction ------------------------------------------------------------------


def transaction_ready(engine: Engine, session_id: str = "s-5") -> tuple[Execution, str]:
    """An execution as BuildCommand leaves it: record loaded, command built."""
    payload = place_order_payload()
    request_id = record_command(engine, "PlaceOrder", payload, session_id=session_id)
    execution = loaded(engine, request_id)
    execution.command = from_payload("PlaceOrder", payload)
    return execution, payload["order_id"]


def handle_with_bus(execution: Execution) -> Outcome:
    bus = MessageBus(registry.COMMAND_HANDLERS, registry.IN_TRANSACTION_SUBSCRIBERS)
    return HandleCommand(bus)(execution)


def test_the_effect_its_events_and_the_status_commit_together(
    engine: Engine, published: list[str]
) -> None:
    execution, order_id = transaction_ready(engine)

    outcome = RunInTransaction(engine, published.extend)(execution, handle_with_bus)

    assert outcome.status == CommandStatus.SUCCEEDED
    assert order_count(engine, order_id) == 1
    row = command_row(engine, execution.command_id)
    assert row["status"] == "succeeded" and row["result"]["order_id"] == order_id
    stored = stored_events(engine, command_id=execution.command_id)
    assert [event["type"] for event in stored] == ["OrderPlaced", "NotificationCreated"]
    assert all(event["audience"] == ["s-5"] for event in stored)
    assert published == outcome.event_ids == [event["id"] for event in stored]


def test_a_failure_inside_the_transaction_leaves_nothing_behind(
    engine: Engine, published: list[str]
) -> None:
    execution, order_id = transaction_ready(engine)

    def handle_then_fail(execution: Execution) -> Outcome:
        handle_with_bus(execution)  # the order and its events are written...
        raise ConnectionError("...and the connection drops before the commit")

    with pytest.raises(ConnectionError):
        RunInTransaction(engine, published.extend)(execution, handle_then_fail)

    assert order_count(engine, order_id) == 0
    assert stored_events(engine, command_id=execution.command_id) == []
    assert command_row(engine, execution.command_id)["status"] == "accepted"
    assert published == []


def test_a_command_found_final_under_the_lock_is_not_handled(
    engine: Engine, published: list[str]
) -> None:
    execution, order_id = transaction_ready(engine)
    finish(engine, execution.command_id, CommandStatus.SUCCEEDED)  # another delivery won
    rest = NextStep()

    outcome = RunInTransaction(engine, published.extend)(execution, rest)

    assert rest.calls == []
    assert outcome.status == "succeeded" and outcome.result == {"done": True}
    assert order_count(engine, order_id) == 0 and published == []
