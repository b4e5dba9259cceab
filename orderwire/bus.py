"""The message bus: a command to its one handler, then its events to their subscribers.

It knows nothing of databases or queues: give it any unit of work (SQL or fake).
"""

from collections.abc import Callable
from typing import Any, Protocol

from domain.commands import Command
from domain.events import Event, RecordedEvent
from domain.ports import CommandContext


class CollectsEvents(Protocol):
    """What the bus needs of a unit of work beyond the handlers' `UnitOfWork`."""

    def collect_new_events(self) -> list[RecordedEvent]: ...


class MessageBus:
    def __init__(
        self,
        command_handlers: dict[type[Command], Callable[..., dict[str, Any]]],
        subscribers: dict[type[Event], list[Callable[..., None]]],
    ) -> None:
        self.command_handlers = command_handlers
        self.subscribers = subscribers

    def handle(
        self, command: Command, uow: Any, context: CommandContext
    ) -> tuple[dict[str, Any], list[RecordedEvent]]:
        """Run the command's handler; return its result and every event it set off, in order."""
        handler = self.command_handlers[type(command)]
        result = handler(command, uow, context)
        return result, self._settle(uow)

    def _settle(self, uow: CollectsEvents) -> list[RecordedEvent]:
        """Collect events until subscribers stop recording new ones."""
        settled: list[RecordedEvent] = []
        pending = uow.collect_new_events()
        while pending:
            settled.extend(pending)
            for item in pending:
                for subscriber in self.subscribers.get(type(item.event), []):
                    subscriber(item, uow)
            pending = uow.collect_new_events()
        return settled
