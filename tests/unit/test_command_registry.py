"""Every command has exactly one handler and one Celery task named after it."""

from celery import Celery

from domain.commands import COMMAND_TYPES
from orderwire.registry import COMMAND_HANDLERS
from orderwire.task_queue import command_task_name
from worker.tasks import register_tasks


def test_every_command_type_has_one_handler_in_the_registry() -> None:
    assert set(COMMAND_HANDLERS) == set(COMMAND_TYPES.values())
    assert {handler.__name__ for handler in COMMAND_HANDLERS.values()} == {
        "place_order",
        "pay_order",
        "ship_order",
        "cancel_order",
    }


def test_the_worker_registers_one_task_per_command_named_after_it() -> None:
    app = Celery("registry-test", set_as_current=False)
    # No services: registering only names the tasks, it never calls for them.
    register_tasks(app, services=lambda: None)  # type: ignore[arg-type,return-value]
    for name in COMMAND_TYPES:
        assert command_task_name(name) == f"orderwire.{name}"
        assert command_task_name(name) in app.tasks

