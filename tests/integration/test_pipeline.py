"""The whole command pipeline as a worker runs it, on a real database and a real Redis.

Every illegal step of the order lifecycle ends `rejected` with its own code and a
`CommandRejected` event for the sender; a command that keeps failing ends `failed`
after its attempts; running one command twice, even at the same time, acts once.
"""

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from domain.commands import CancelOrder, PayOrder, PlaceOrder, ShipOrder
from domain.handlers import place_order
from orderwire import registry
from orderwire.attempt_counter import RedisAttemptCounter
from orderwire.bootstrap import Orderwire, bootstrap
from orderwire.bus import MessageBus
from orderwire.config import Settings
from orderwire.db.unit_of_work import SqlAlchemyUnitOfWork
from orderwire.pipeline import Step, compose
from orderwire.pipeline.attempts import CountAttempt
from orderwire.pipeline.execution import Execution, Outcome
from orderwire.pipeline.handle import HandleCommand
from orderwire.pipeline.retries import RetryPolicy, RetryTransient
from orderwire.pipeline.transaction import RunInTransaction
from orderwire.pipeline.validation import BuildCommand
from orderwire.pipeline.verdicts import Verdicts
from tests.payloads import place_order_payload
from tests.recorded_commands import (
    command_row,
    event_types,
    order_count,
    record_command,
    recorded_command,
    stored_events,
)

pytestmark = pytest.mark.integration

SENDER = "session-sender"


def run(
    services: Orderwire, command: str, order_id: str, session: str = SENDER, **payload: Any
) -> tuple[str, dict[str, Any]]:
    """Record a command as the web would, execute it as a worker would; its log row after."""
    request_id = record_command(
        services.engine, command, {"order_id": order_id, **payload}, session_id=session
    )
    services.execute(request_id)
    row = command_row(services.engine, request_id)
    assert row is not None
    return request_id, row


def place(services: Orderwire, session: str = SENDER) -> str:
    payload = place_order_payload()
    request_id = record_command(services.engine, "PlaceOrder", payload, session_id=session)
    assert services.execute(request_id).status == "succeeded"
    return payload["order_id"]


def counting(handler: Callable[..., Any], calls: list[str]) -> Callable[..., Any]:
    """The real handler, noting each call: a duplicate must not even reach it."""

    def counted(command: Any, uow: Any, context: Any) -> Any:
        calls.append(context.request_id)
        return handler(command, uow, context)

    return counted


def pay(services: Orderwire, order_id: str) -> None:
    assert run(services, "PayOrder", order_id)[1]["status"] == "succeeded"


def ship(services: Orderwire, order_id: str) -> None:
    assert run(services, "ShipOrder", order_id)[1]["status"] == "succeeded"


def cancel(services: Orderwire, order_id: str) -> None:
    assert run(services, "CancelOrder", order_id, reason="changed my mind")[1]["status"] == (
        "succeeded"
    )


def test_the_lifecycle_placed_paid_shipped_commits_each_step_with_its_events(
    services: Orderwire,
) -> None:
    order_id = place(services)
    pay(services, order_id)
    ship(services, order_id)

    events = stored_events(services.engine, aggregate_id=order_id)
    assert [event["type"] for event in events] == ["OrderPlaced", "OrderPaid", "OrderShipped"]
    assert [event["aggregate_version"] for event in events] == [1, 2, 3]
    assert all(event["audience"] == [SENDER] for event in events)


Setup = Callable[[Orderwire, str], None]


def nothing(services: Orderwire, order_id: str) -> None:
    pass


def paid(services: Orderwire, order_id: str) -> None:
    pay(services, order_id)


def shipped(services: Orderwire, order_id: str) -> None:
    pay(services, order_id)
    ship(services, order_id)


def cancelled(services: Orderwire, order_id: str) -> None:
    cancel(services, order_id)


ILLEGAL_STEPS = [
    ("PayOrder", paid, {}, "order_already_paid"),
    ("PayOrder", shipped, {}, "order_already_shipped"),
    ("PayOrder", cancelled, {}, "order_cancelled"),
    ("ShipOrder", nothing, {}, "order_not_paid"),
    ("ShipOrder", shipped, {}, "order_already_shipped"),
    ("ShipOrder", cancelled, {}, "order_cancelled"),
    ("CancelOrder", shipped, {"reason": "too late"}, "order_already_shipped"),
    ("CancelOrder", cancelled, {"reason": "twice"}, "order_already_cancelled"),
]


@pytest.mark.parametrize(
    ("command", "setup", "payload", "code"),
    ILLEGAL_STEPS,
    ids=[f"{command}-{setup.__name__}" for command, setup, _, _ in ILLEGAL_STEPS],
)
def test_an_illegal_step_is_rejected_with_its_own_code_and_changes_nothing(
    services: Orderwire, command: str, setup: Setup, payload: dict[str, str], code: str
) -> None:
    order_id = place(services)
    setup(services, order_id)
    before = stored_events(services.engine, aggregate_id=order_id)

    request_id, row = run(services, command, order_id, **payload)

    assert row["status"] == "rejected"
    assert row["error"]["code"] == code and row["error"]["message"]
    assert row["attempts"] == 1  # a business rule is not retried
    assert stored_events(services.engine, aggregate_id=order_id) == before
    [event] = stored_events(services.engine, command_id=request_id)
    assert event["type"] == "CommandRejected"
    assert event["data"] == {
        "command": command,
        "code": code,
        "message": row["error"]["message"],
        "order_id": order_id,
    }
    assert event["audience"] == [SENDER]


@pytest.mark.parametrize(
    ("command", "payload"),
    [("PayOrder", {}), ("ShipOrder", {}), ("CancelOrder", {"reason": "never mind"})],
)
def test_a_command_on_an_unknown_order_is_rejected_order_not_found(
    services: Orderwire, command: str, payload: dict[str, str]
) -> None:
    order_id = str(uuid.uuid4())
    request_id, row = run(services, command, order_id, **payload)

    assert row["status"] == "rejected" and row["error"]["code"] == "order_not_found"
    assert order_count(services.engine, order_id) == 0
    [event] = stored_events(services.engine, command_id=request_id)
    assert event["type"] == "CommandRejected" and event["data"]["code"] == "order_not_found"
    assert event["audience"] == [SENDER]


def test_placing_an_order_whose_id_exists_is_rejected_order_already_exists(
    services: Orderwire,
) -> None:
    order_id = place(services, session="first-session")

    lines = place_order_payload()["lines"]
    request_id, row = run(services, "PlaceOrder", order_id, customer_name="Mallory", lines=lines)

    assert row["status"] == "rejected" and row["error"]["code"] == "order_already_exists"
    assert event_types(services.engine, aggregate_id=order_id) == ["OrderPlaced"]
    [event] = stored_events(services.engine, command_id=request_id)
    assert event["type"] == "CommandRejected"
    # The first session owns the order but did not ask: the answer is only for the asker.
    assert event["audience"] == [SENDER]


def test_a_handler_that_always_fails_ends_failed_after_the_configured_attempts(
    settings: Settings, engine: Engine, redis_client: redis.Redis
) -> None:
    calls: list[str] = []

    def broken(command: Any, uow: Any, context: Any) -> dict[str, Any]:
        calls.append(context.request_id)
        raise OSError("the disk is on fire")

    services = bootstrap(
        settings,
        engine=engine,
        redis_client=redis_client,
        command_handlers=dict.fromkeys((PlaceOrder, PayOrder, ShipOrder, CancelOrder), broken),
        retry_policy=RetryPolicy(max_attempts=3, base_delay=0.001),
    )
    payload = place_order_payload()
    request_id = record_command(engine, "PlaceOrder", payload, session_id=SENDER)

    outcome = services.execute(request_id)

    assert outcome.status == "failed"
    assert len(calls) == 3
    row = recorded_command(engine, request_id)
    assert row["status"] == "failed" and row["attempts"] == 3
    assert row["error"]["code"] == "attempts_exhausted"
    assert order_count(engine, payload["order_id"]) == 0
    [event] = stored_events(engine, command_id=request_id)
    assert event["type"] == "CommandFailed" and event["audience"] == [SENDER]

    # A redelivery finds it finished: no endless loop of attempts.
    assert services.execute(request_id).status == "failed"
    assert len(calls) == 3 and recorded_command(engine, request_id)["attempts"] == 3


def test_a_handler_that_fails_once_succeeds_on_its_second_attempt_exactly_once(
    settings: Settings, engine: Engine, redis_client: redis.Redis
) -> None:
    failures = [ConnectionError("database unavailable")]

    def flaky(command: Any, uow: Any, context: Any) -> dict[str, Any]:
        result = place_order(command, uow, context)  # its effect is rolled back below
        if failures:
            raise failures.pop()
        return result

    services = bootstrap(
        settings,
        engine=engine,
        redis_client=redis_client,
        command_handlers={PlaceOrder: flaky},
        retry_policy=RetryPolicy(max_attempts=3, base_delay=0.001),
    )
    payload = place_order_payload()
    request_id = record_command(engine, "PlaceOrder", payload, session_id=SENDER)

    assert services.execute(request_id).status == "succeeded"
    row = recorded_command(engine, request_id)
    assert row["attempts"] == 2 and row["result"]["order_id"] == payload["order_id"]
    assert order_count(engine, payload["order_id"]) == 1
    assert event_types(engine, aggregate_id=payload["order_id"]) == ["OrderPlaced"]


def counted(
    settings: Settings, engine: Engine, redis_client: redis.Redis, handled: list[str]
) -> Orderwire:
    """The real bootstrap, with a PlaceOrder handler that notes each request id it runs."""
    return bootstrap(
        settings,
        engine=engine,
        redis_client=redis_client,
        command_handlers={PlaceOrder: counting(place_order, handled)},
    )


def test_the_same_command_executed_twice_places_one_order(
    settings: Settings, engine: Engine, redis_client: redis.Redis
) -> None:
    handled: list[str] = []
    services = counted(settings, engine, redis_client, handled)
    payload = place_order_payload()
    request_id = record_command(services.engine, "PlaceOrder", payload, session_id=SENDER)

    first = services.execute(request_id)
    second = services.execute(request_id)

    assert first.status == second.status == "succeeded"
    assert first.result == second.result
    assert handled == [recorded_command(engine, request_id)["request_id"]]
    assert order_count(services.engine, payload["order_id"]) == 1
    assert event_types(services.engine, aggregate_id=payload["order_id"]) == ["OrderPlaced"]
    assert recorded_command(services.engine, request_id)["attempts"] == 1


def test_the_same_command_executed_by_two_threads_at_once_places_one_order(
    settings: Settings, engine: Engine, redis_client: redis.Redis
) -> None:
    handled: list[str] = []
    services = counted(settings, engine, redis_client, handled)
    payload = place_order_payload()
    request_id = record_command(services.engine, "PlaceOrder", payload, session_id=SENDER)
    start = threading.Barrier(2, timeout=30)
    outcomes: list[Any] = []
    errors: list[BaseException] = []

    def execute() -> None:
        start.wait()
        try:
            outcomes.append(services.execute(request_id))
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=execute) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert [outcome.status for outcome in outcomes] == ["succeeded", "succeeded"]
    assert handled == [recorded_command(engine, request_id)["request_id"]]
    assert order_count(services.engine, payload["order_id"]) == 1
    assert event_types(services.engine, aggregate_id=payload["order_id"]) == ["OrderPlaced"]
    assert event_types(services.engine, command_id=request_id).count("OrderPlaced") == 1


def test_two_deliveries_at_the_lock_at_once_still_place_one_order(
    services: Orderwire, redis_client: redis.Redis
) -> None:
    """Both copies reach the command's row lock together; the lock alone must decide, and
    the copy that finds the command done neither runs it nor counts an attempt."""
    both_started = threading.Barrier(2, timeout=30)

    def meet(execution: Execution, next_step: Step) -> Outcome:
        both_started.wait()
        return next_step(execution)

    def unit_of_work() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(services.engine)

    verdicts = Verdicts(unit_of_work, services.relay.publish_own)
    handled: list[str] = []
    bus = MessageBus(
        {**registry.COMMAND_HANDLERS, PlaceOrder: counting(place_order, handled)},
        registry.IN_TRANSACTION_SUBSCRIBERS,
    )
    pipeline = compose(
        [
            RetryTransient(verdicts, RetryPolicy(max_attempts=3)),
            meet,
            RunInTransaction(unit_of_work, services.relay.publish_own),
            CountAttempt(
                RedisAttemptCounter(redis_client, ttl_seconds=60), verdicts, max_attempts=3
            ),
            BuildCommand(verdicts),
        ],
        HandleCommand(bus),
    )
    payload = place_order_payload()
    request_id = record_command(services.engine, "PlaceOrder", payload, session_id=SENDER)
    outcomes: list[Outcome] = []

    threads = [
        threading.Thread(target=lambda: outcomes.append(pipeline(Execution(request_id))))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [outcome.status for outcome in outcomes] == ["succeeded", "succeeded"]
    # the handler ran once, not twice then rejected
    assert handled == [recorded_command(services.engine, request_id)["request_id"]]
    assert recorded_command(services.engine, request_id)["attempts"] == 1
    assert order_count(services.engine, payload["order_id"]) == 1
    assert event_types(services.engine, aggregate_id=payload["order_id"]) == ["OrderPlaced"]
