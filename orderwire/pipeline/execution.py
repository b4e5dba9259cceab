"""What travels through the pipeline: one execution of one command, and its outcome."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from domain.commands import Command
from domain.events import RecordedEvent
from domain.ports import CommandContext
from orderwire.command_status import FINAL, CommandStatus


@dataclass
class Execution:
    command_id: str  # the command log's key (command_log.command_id), the task's argument
    record: dict[str, Any] | None = None  # the command log row, locked by the transaction
    command: Command | None = None  # built by validation
    attempt: int = 0  # counted by the attempt behaviour
    counted_in_log: bool = False  # this attempt was counted in the log (no counter)
    uow: Any = None  # opened by the transaction behaviour
    recorded: list[RecordedEvent] = field(default_factory=list)  # set off by the handler
    # What the delivery said the request id is (a task's id); the log row has the last word.
    delivered_as: str | None = None

    @property
    def request_id(self) -> str:
        """The client's key, which events and logs carry: the command log row's, else what
        the delivery said, else the command id (a command that is not in the log)."""
        if self.record:
            request_id: str = self.record["request_id"]
            return request_id
        return self.delivered_as or self.command_id

    @property
    def context(self) -> CommandContext:
        session_id = self.record["session_id"] if self.record else None
        return CommandContext(self.request_id, session_id)

    @property
    def command_name(self) -> str:
        return self.record["command"] if self.record else "unknown"


@dataclass(frozen=True)
class Outcome:
    status: CommandStatus | str
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    event_ids: list[str] = field(default_factory=list)

    @classmethod
    def of_record(cls, record: dict[str, Any]) -> "Outcome":
        return cls(record["status"], record.get("result"), record.get("error"))

    @classmethod
    def if_settled(cls, record: dict[str, Any] | None) -> "Outcome | None":
        """The answer for a command that needs no more work (not in the log, or final), from
        its row; None if it is still to be done. Every place that loads a command's row
        before acting on it asks this, under the row's lock."""
        if record is None:
            return cls("unknown")
        if record["status"] in FINAL:
            return cls.of_record(record)
        return None


Step = Callable[[Execution], Outcome]
