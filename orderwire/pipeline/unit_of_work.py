"""What the pipeline needs from a unit of work, as protocols: the SQL one
(`orderwire.db.unit_of_work`) and the tests' `FakeUnitOfWork` both provide it.

Behaviours get a factory of these from `bootstrap` and never see a database."""

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Protocol

from domain.events import Event, RecordedEvent
from orderwire.command_status import CommandStatus


class CommandLog(Protocol):
    def lock(self, command_id: str) -> dict[str, Any] | None:
        """The command's row, locked until the unit of work ends; None if there is none."""

    def start(self, command_id: str, attempts: int) -> None:
        """Mark the locked command running, on its `attempts`-th attempt."""

    def finish(
        self,
        command_id: str,
        status: CommandStatus,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        attempts: int | None = None,
    ) -> bool:
        """Move an unfinished command to a final status; False if it was final already."""


class StoredEvent(Protocol):
    @property
    def event_id(self) -> str: ...  # read-only: a stored event is a frozen record


class Outbox(Protocol):
    appended: list[Any]  # what this unit of work appended, in order (each has an event_id)

    def append(
        self,
        event: Event,
        *,
        aggregate_id: str,
        aggregate_version: int,
        request_id: str | None,
        audience: Iterable[str],
    ) -> StoredEvent: ...

    def append_all(
        self,
        recorded: Iterable[tuple[Event, str, int]],  # (event, aggregate id, aggregate version)
        *,
        request_id: str | None,
        audience: Iterable[str],
    ) -> list[Any]:
        """Append a command's events, in order, in one go; returns what `append` would."""


class PipelineUnitOfWork(Protocol):
    # Read-only: behaviours use these and never replace them, so a unit of work may hold
    # its own kinds (SqlCommandLog, SqlOutbox) in them.
    @property
    def commands(self) -> CommandLog: ...

    @property
    def outbox(self) -> Outbox: ...

    def __enter__(self) -> "PipelineUnitOfWork": ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> None: ...

    def collect_new_events(self) -> list[RecordedEvent]: ...

    def audience(self, session_id: str | None) -> set[str]: ...

    def save_aggregates(self) -> None: ...

    def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], PipelineUnitOfWork]
# After the commit: publish these stored events (what `outbox.appended` holds) at once.
PublishNow = Callable[[list[Any]], None]
