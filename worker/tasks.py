"""Celery tasks. Arguments are ids only (Flower shows them); the data is in the database."""

import logging
import time
from collections.abc import Callable

from celery import Celery, Task
from celery.exceptions import Ignore
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from domain.commands import COMMAND_TYPES
from orderwire.bootstrap import Orderwire
from orderwire.db.engine import utcnow
from orderwire.db.tables import handled_events
from orderwire.faults import fault_point
from orderwire.logs import request_id_var
from orderwire.outbox import store as outbox
from orderwire.registry import AFTER_COMMIT_SUBSCRIBERS
from orderwire.subscribers import Subscriber
from orderwire.task_queue import command_task_name, subscriber_task_name

log = logging.getLogger("orderwire.worker")


def register_tasks(app: Celery, services: Callable[[], Orderwire]) -> None:
    for command in COMMAND_TYPES:
        _register_command(app, command, services)
    registered: set[str] = set()
    for subscribers in AFTER_COMMIT_SUBSCRIBERS.values():
        for subscriber in subscribers:
            if subscriber.__name__ not in registered:
                registered.add(subscriber.__name__)
                _register_subscriber(app, subscriber, services)


# What Flower shows for a command that ended without effect. Celery has no state for "done,
# and refused": a task that returns is SUCCESS, one that raises is FAILURE (a crash, to an
# operator), and `Reject` (`task-rejected`) cannot do it either: Flower keeps a task STARTED
# when task-rejected follows task-started (states.precedence), and Celery 5.7 turns
# Reject(requeue=False) into task-failed. A custom task event names a state of its own,
# which outranks STARTED; `Ignore` then acknowledges the message with no further event.
FLOWER_STATES = {"rejected": "task-command_rejected", "failed": "task-command_failed"}


def _register_command(app: Celery, command: str, services: Callable[[], Orderwire]) -> None:
    def run_command(task: Task, command_id: str) -> str:
        started = time.monotonic()
        status = str(services().execute(command_id, request_id=task.request.id).status)
        if status in FLOWER_STATES:
            # `runtime` fills Flower's Runtime column, as task-succeeded would.
            task.send_event(FLOWER_STATES[status], runtime=time.monotonic() - started)
            # Acknowledged (acks_late acks an ignored task): the outcome is final and
            # recorded, and nothing is redelivered.
            raise Ignore(status)
        return status

    run_command.__name__ = command
    # The task id is the request id (the client's key, unique per session); the argument is
    # the command id that the command log knows it by (orderwire.db.command_log.command_id).
    run_command.__doc__ = f"Carry out one accepted {command} command, by its command id."
    app.task(name=command_task_name(command), bind=True)(run_command)


def _register_subscriber(
    app: Celery, subscriber: Subscriber, services: Callable[[], Orderwire]
) -> None:
    name = subscriber.__name__

    def deliver(event_id: str) -> str:
        return deliver_event(services(), subscriber, event_id)

    deliver.__name__ = name
    app.task(
        name=subscriber_task_name(name),
        autoretry_for=(Exception,),
        retry_backoff=True,
        retry_backoff_max=60,
        retry_jitter=True,
        max_retries=10,
    )(deliver)


def deliver_event(orderwire: Orderwire, subscriber: Subscriber, event_id: str) -> str:
    """Apply one after-commit subscriber to one event, at most once.

    The (event, subscriber) row and the subscriber's effect commit together: if the
    subscriber fails, neither is kept and the task is retried; if the event comes
    again, the row is there and nothing happens.
    """
    with orderwire.engine.connect() as connection, connection.begin():
        envelope = outbox.load(connection, event_id)
        if envelope is None:
            log.error("no such event", extra={"event_id": event_id})
            return "unknown"
        token = request_id_var.set(envelope.get("request_id"))
        try:
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(handled_events).values(
                            event_id=event_id, subscriber=subscriber.__name__, handled_at=utcnow()
                        )
                    )
            except IntegrityError:
                return "duplicate"
            fault_point("subscriber.before")
            subscriber(envelope, connection)
            log.info(
                "subscriber %s handled %s",
                subscriber.__name__,
                envelope["type"],
                extra={"event": "subscriber.handled", "event_id": event_id},
            )
            return "handled"
        finally:
            request_id_var.reset(token)
