"""Celery tasks. Arguments are ids only (Flower shows them); the data is in the database."""

import time
from collections.abc import Callable

from celery import Celery, Task
from celery.exceptions import Ignore

from domain.commands import COMMAND_TYPES
from orderwire.bootstrap import Orderwire
from orderwire.task_queue import command_task_name


def register_tasks(app: Celery, services: Callable[[], Orderwire]) -> None:
    """One task per command. After-commit subscribers are no tasks: the relay delivers them
    from the outbox (orderwire/outbox/deliveries/)."""
    for command in COMMAND_TYPES:
        _register_command(app, command, services)


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
