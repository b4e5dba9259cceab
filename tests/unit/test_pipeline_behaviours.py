"""Each pipeline behaviour on a FakeUnitOfWork: the command log, the outbox and the orders in
memory, so every rule of the worker path is checked in milliseconds. The same behaviours
on the real database are in tests/integration/test_pipeline.py and test_unit_of_work.py."""

from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from domain.commands import PlaceOrder
from domain.errors import DomainError
from orderwire import registry
from orderwire.bus import MessageBus
from orderwire.command_status import CommandStatus
from orderwire.pipeline import Behaviour, Step, compose
from orderwire.pipeline.attempts import AttemptNotCounted, CountAttempt, CountInLogWithoutCounter
from orderwire.pipeline.execution import Execution, Outcome
from orderwire.pipeline.handle import HandleCommand
from orderwire.pipeline.retries import RetryPolicy, RetryTransient
from orderwire.pipeline.transaction import RunInTransaction
from orderwire.pipeline.validation import BuildCommand
from orderwire.pipeline.verdicts import Verdicts
from tests.fakes import FakeDatabase, FakeUnitOfWork
from tests.payloads import a_key, place_order_payload


class Counter:
    """The attempt counter: counts per command, as Redis does; can be made unreachable."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.down = False

    def __call__(self, request_id: str) -> int:
        if self.down:
            raise ConnectionError("redis is down")
        self.counts[request_id] = self.counts.get(request_id, 0) + 1
        return self.counts[request_id]


class NextStep:
    """The handler, played by a function that fails as often as it is told to."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.attempts: list[int] = []  # the attempt number each call saw

    def __call__(self, execution: Execution) -> Outcome:
        self.attempts.append(execution.attempt)
        if self.failures:
            raise self.failures.pop(0)
        return Outcome(CommandStatus.SUCCEEDED, result={"ok": True})


class Worker:
    """The worker's pipeline as bootstrap composes it, on fakes."""

    def __init__(self, max_attempts: int = 3) -> None:
        self.database = FakeDatabase()
        self.counter = Counter()
        self.published: list[str] = []  # ids of the events handed to the fast path
        self.verdicts = Verdicts(self.unit_of_work, self.publish_now)
        self.policy = RetryPolicy(max_attempts=max_attempts, base_delay=0.0001)

    def publish_now(self, batch: list[Any]) -> None:
        self.published.extend(stored.event_id for stored in batch)

    def unit_of_work(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.database)

    def behaviours(self, **give_up: Any) -> list[Behaviour]:
        return [
            RetryTransient(self.verdicts, self.policy, **give_up),
            CountInLogWithoutCounter(self.unit_of_work),
            RunInTransaction(self.unit_of_work, self.publish_now),
            CountAttempt(self.counter, self.verdicts, max_attempts=self.policy.max_attempts),
            BuildCommand(self.verdicts),
        ]

    def run(self, command_id: str, handler: Step, **give_up: Any) -> Outcome:
        return compose(self.behaviours(**give_up), handler)(Execution(command_id))

    def record(self, command: str = "PlaceOrder", payload: dict | None = None,
               session_id: str | None = "s-1") -> str:
        return self.database.record(a_key("r"), command,
                                    payload or place_order_payload(), session_id=session_id)

    def row(self, command_id: str) -> dict[str, Any]:
        return self.database.commands[command_id]

    def events(self, command_id: str) -> list[Any]:
        """The events of the command with this command id: they carry its request id."""
        request_id = self.row(command_id)["request_id"]
        return [e for e in self.database.events if e.request_id == request_id]


def real_handlers(execution: Execution) -> Outcome:
    bus = MessageBus(registry.COMMAND_HANDLERS, registry.IN_TRANSACTION_SUBSCRIBERS)
    return HandleCommand(bus)(execution)


@pytest.fixture
def worker() -> Worker:
    return Worker()


# --- RunInTransaction -------------------------------------------------------------------------


def test_the_effect_its_events_and_the_status_commit_together_in_one_unit_of_work(
    worker: Worker,
) -> None:
    payload = place_order_payload()
    request_id = worker.record(payload=payload, session_id="s-5")

    outcome = worker.run(request_id, real_handlers)

    assert outcome.status == CommandStatus.SUCCEEDED
    assert worker.database.commits == 1  # one write transaction, counting included
    assert payload["order_id"] in worker.database.orders
    row = worker.row(request_id)
    assert (row["status"], row["attempts"]) == ("succeeded", 1)
    assert row["result"]["order_id"] == payload["order_id"]
    stored = worker.events(request_id)
    assert [e.event.name for e in stored] == ["OrderPlaced", "NotificationCreated"]
    assert all(e.audience == ("s-5",) for e in stored)
    assert worker.published == outcome.event_ids == [e.event_id for e in stored]


def test_a_failure_inside_the_transaction_leaves_nothing_behind(worker: Worker) -> None:
    payload = place_order_payload()
    request_id = worker.record(payload=payload)

    def handle_then_fail(execution: Execution) -> Outcome:
        real_handlers(execution)  # the order and its events are written...
        raise ConnectionError("...and the connection drops before the commit")

    with pytest.raises(ConnectionError):
        compose(worker.behaviours()[2:], handle_then_fail)(Execution(request_id))

    assert worker.database.orders == {} and worker.database.events == []
    assert worker.row(request_id)["status"] == "accepted"
    assert worker.published == []


@pytest.mark.parametrize("status", [CommandStatus.SUCCEEDED, CommandStatus.REJECTED])
def test_a_command_found_final_under_the_lock_is_answered_from_its_row_and_not_handled(
    worker: Worker, status: CommandStatus
) -> None:
    request_id = worker.record()
    worker.row(request_id).update(status=status, result={"done": True}, attempts=1)
    handler = NextStep()

    outcome = worker.run(request_id, handler)

    assert handler.attempts == []
    assert outcome.status == status and outcome.result == {"done": True}
    assert worker.counter.counts == {}  # a duplicate counts no attempt
    assert worker.database.commits == 0 and worker.published == []


def test_a_command_that_was_never_recorded_is_unknown_and_nothing_happens(
    worker: Worker,
) -> None:
    handler = NextStep()
    assert worker.run("never-recorded", handler).status == "unknown"
    assert handler.attempts == [] and worker.database.commits == 0


# --- CountAttempt -----------------------------------------------------------------------------


def test_a_command_redelivered_after_its_budget_is_spent_fails_without_running(
    worker: Worker,
) -> None:
    request_id = worker.record(session_id="s-4")
    for _ in range(3):  # three earlier deliveries died without a verdict
        worker.counter(request_id)
    handler = NextStep()

    outcome = worker.run(request_id, handler)

    assert handler.attempts == []
    assert outcome.status == CommandStatus.FAILED
    assert outcome.error == {"code": "attempts_exhausted", "message": "gave up after 3 attempts"}
    assert worker.row(request_id)["attempts"] == 4
    [event] = worker.events(request_id)
    assert event.event.name == "CommandFailed" and event.audience == ("s-4",)
    assert worker.database.commits == 1  # the verdict in the command's own transaction


def test_the_logs_count_is_the_floor_when_the_counter_forgot(worker: Worker) -> None:
    request_id = worker.record()
    worker.row(request_id)["attempts"] = 3  # counted in the log while Redis was down
    handler = NextStep()

    outcome = worker.run(request_id, handler)

    assert handler.attempts == [] and outcome.status == CommandStatus.FAILED
    assert worker.row(request_id)["attempts"] == 4


def test_with_the_counter_down_the_attempt_is_counted_in_the_log_first_and_kept(
    worker: Worker,
) -> None:
    request_id = worker.record()
    worker.counter.down = True
    crashed = NextStep(SystemExit("the process dies mid-attempt"))

    with pytest.raises(SystemExit):
        worker.run(request_id, crashed)

    # The handler's transaction is gone, the attempt's count is not.
    assert crashed.attempts == [1]
    assert worker.row(request_id)["attempts"] == 1
    assert worker.row(request_id)["status"] == "running"

    handler = NextStep()
    assert worker.run(request_id, handler).status == CommandStatus.SUCCEEDED
    assert handler.attempts == [2] and worker.row(request_id)["attempts"] == 2


def test_a_counter_that_cannot_count_lets_nothing_of_the_attempt_happen(worker: Worker) -> None:
    request_id = worker.record()
    worker.counter.down = True
    handler = NextStep()

    with pytest.raises(AttemptNotCounted):
        compose(worker.behaviours()[2:], handler)(Execution(request_id))

    assert handler.attempts == [] and worker.database.commits == 0


# --- BuildCommand -----------------------------------------------------------------------------


def test_build_command_rebuilds_the_domain_command_from_the_stored_payload(
    worker: Worker,
) -> None:
    payload = {**place_order_payload(), "customer_name": "  Ada  "}
    request_id = worker.record(payload=payload)
    built: list[Any] = []

    def build_then_handle(execution: Execution) -> Outcome:
        built.append(execution.command)
        return NextStep()(execution)

    worker.run(request_id, build_then_handle)

    [command] = built
    assert isinstance(command, PlaceOrder)
    assert command.order_id == payload["order_id"] and command.customer_name == "Ada"


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
def test_build_command_rejects_a_payload_that_does_not_construct_in_the_same_transaction(
    worker: Worker, command: str, payload: dict, code: str
) -> None:
    request_id = worker.record(command, payload, session_id="s-2")
    handler = NextStep()

    outcome = worker.run(request_id, handler)

    assert handler.attempts == []
    assert outcome.status == CommandStatus.REJECTED
    assert outcome.error is not None and outcome.error["code"] == code
    row = worker.row(request_id)
    assert row["status"] == "rejected" and row["error"]["code"] == code
    [event] = worker.events(request_id)
    assert event.event.name == "CommandRejected" and event.event.data()["code"] == code
    assert event.audience == ("s-2",)
    # The command is its verdict's aggregate by its command id (what `record` returns), not
    # by its request id, which another session may use too; the event carries the request id.
    assert event.aggregate_id == request_id != row["request_id"] == event.request_id
    assert worker.published == [event.event_id]
    assert worker.database.commits == 1


# --- RetryTransient ---------------------------------------------------------------------------


def test_a_domain_error_rejects_the_command_at_once_without_a_retry(worker: Worker) -> None:
    order_id = place_order_payload()["order_id"]
    request_id = worker.record("PayOrder", {"order_id": order_id}, session_id="s-3")
    handler = NextStep(DomainError("this order is already paid", code="order_already_paid"))

    outcome = worker.run(request_id, handler)

    assert handler.attempts == [1]
    assert outcome.status == CommandStatus.REJECTED
    assert outcome.error == {"code": "order_already_paid", "message": "this order is already paid"}
    row = worker.row(request_id)
    assert (row["status"], row["attempts"]) == ("rejected", 1)
    [event] = worker.events(request_id)
    assert event.event.name == "CommandRejected"
    assert event.event.data()["code"] == "order_already_paid"


def test_a_transient_failure_is_retried_and_the_command_can_still_succeed(
    worker: Worker,
) -> None:
    request_id = worker.record()
    handler = NextStep(ConnectionError("redis down"), TimeoutError("database busy"))

    outcome = worker.run(request_id, handler)

    assert outcome.status == CommandStatus.SUCCEEDED
    assert handler.attempts == [1, 2, 3]
    assert worker.row(request_id)["attempts"] == 3
    assert worker.events(request_id) == []  # NextStep itself records no events


def test_a_failure_that_persists_ends_failed_after_max_attempts_with_attempts_counted(
    worker: Worker,
) -> None:
    request_id = worker.record(session_id="s-4")
    handler = NextStep(*[RuntimeError("database is locked")] * 10)

    outcome = worker.run(request_id, handler)

    assert handler.attempts == [1, 2, 3]
    assert outcome.status == CommandStatus.FAILED
    assert outcome.error is not None and outcome.error["code"] == "attempts_exhausted"
    row = worker.row(request_id)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    [event] = worker.events(request_id)
    assert event.event.name == "CommandFailed" and event.audience == ("s-4",)
    assert event.event.data()["command"] == "PlaceOrder"
    assert "RuntimeError" in event.event.data()["message"]
    assert worker.published == [event.event_id]


def test_a_soft_time_limit_ends_the_command_failed_without_another_attempt(
    worker: Worker,
) -> None:
    request_id = worker.record(session_id="s-5")
    handler = NextStep(SoftTimeLimitExceeded(), RuntimeError("never reached"))

    outcome = worker.run(request_id, handler, give_up_on=(SoftTimeLimitExceeded,))

    assert handler.attempts == [1]
    assert outcome.status == CommandStatus.FAILED
    assert outcome.error is not None and outcome.error["code"] == "time_limit_exceeded"
    assert worker.row(request_id)["attempts"] == 1
    [event] = worker.events(request_id)
    assert event.event.name == "CommandFailed" and event.audience == ("s-5",)


def test_a_log_that_cannot_be_reached_is_retried_then_the_error_leaves_the_task(
    worker: Worker,
) -> None:
    request_id = worker.record()
    calls: list[int] = []

    def unreachable() -> FakeUnitOfWork:
        calls.append(1)
        raise ConnectionError("the database is down")

    retrying = RetryTransient(worker.verdicts, worker.policy)
    with pytest.raises(ConnectionError):
        compose([retrying, RunInTransaction(unreachable, worker.publish_now)],
                NextStep())(Execution(request_id))

    assert len(calls) == worker.policy.max_attempts  # no attempt of the command was counted
    assert worker.row(request_id)["status"] == "accepted"


# --- Verdicts ---------------------------------------------------------------------------------


def test_a_verdict_never_overwrites_a_final_status(worker: Worker) -> None:
    request_id = worker.record()
    worker.row(request_id).update(status=CommandStatus.SUCCEEDED, result={"done": True})

    outcome = worker.verdicts.fail(Execution(request_id), "attempts_exhausted", "too late")

    assert outcome.status == "succeeded"
    assert worker.row(request_id)["status"] == "succeeded"
    assert worker.database.events == [] and worker.published == []
