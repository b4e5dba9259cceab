"""In-memory stand-ins for the unit of work: for handler tests through the bus, and for a
millisecond unit test of every pipeline behaviour.

`FakeDatabase` holds what is committed; each `FakeUnitOfWork` on it works on copies and
writes them back only on `commit()`, so a unit of work left without a commit leaves
nothing behind, as a rolled-back transaction does.
"""

import copy
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from domain.events import Event, RecordedEvent
from domain.notification import Notification
from domain.order import Order
from orderwire.command_status import FINAL, CommandStatus
from orderwire.db.command_log import command_id


@dataclass
class FakeStoredEvent:
    event_id: str
    event: Event
    aggregate_id: str
    aggregate_version: int
    request_id: str | None
    audience: tuple[str, ...]


@dataclass
class FakeDatabase:
    commands: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[FakeStoredEvent] = field(default_factory=list)
    orders: dict[str, Order] = field(default_factory=dict)
    commits: int = 0

    def record(self, request_id: str, command: str, payload: dict[str, Any], *,
               session_id: str | None = None) -> str:
        """An accepted command, as the web stores it before its 202, keyed by its command id
        (command_log.command_id), which this returns: what a worker task is given."""
        key = command_id(session_id, request_id)
        self.commands[key] = {
            "command_id": key, "request_id": request_id, "command": command, "payload": payload,
            "session_id": session_id, "order_id": payload.get("order_id"),
            "status": CommandStatus.ACCEPTED, "attempts": 0, "result": None, "error": None,
            "accepted_at": None,
        }
        return key


class FakeOrderRepository:
    def __init__(self, saved: dict[str, Order] | None = None) -> None:
        self.saved: dict[str, Order] = {} if saved is None else saved
        self.seen: dict[str, Order] = {}

    def get(self, order_id: str) -> Order | None:
        if order_id in self.seen:
            return self.seen[order_id]
        order = self.saved.get(order_id)
        if order is not None:
            # A copy, as a database hands out: changes count only once committed.
            self.seen[order_id] = order = copy.deepcopy(order)
        return order

    def add(self, order: Order) -> None:
        self.seen[order.order_id] = order


class FakeNotificationRepository:
    def __init__(self) -> None:
        self.seen: dict[str, Notification] = {}

    def add(self, notification: Notification) -> None:
        self.seen[notification.notification_id] = notification


class FakeCommandLog:
    def __init__(self, rows: dict[str, dict[str, Any]]) -> None:
        self.rows = rows

    def lock(self, request_id: str) -> dict[str, Any] | None:
        row = self.rows.get(request_id)
        return dict(row) if row is not None else None

    def start(self, request_id: str, attempts: int) -> None:
        row = self.rows[request_id]
        if row["status"] not in FINAL:
            row.update(status=CommandStatus.RUNNING, attempts=attempts)

    def finish(
        self,
        request_id: str,
        status: CommandStatus,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        attempts: int | None = None,
    ) -> bool:
        row = self.rows[request_id]
        if row["status"] in FINAL:
            return False
        row.update(status=status, result=result, error=error)
        if attempts is not None:
            row["attempts"] = attempts
        return True


class FakeOutbox:
    def __init__(self) -> None:
        self.appended: list[FakeStoredEvent] = []

    def append(self, event: Event, *, aggregate_id: str, aggregate_version: int,
               request_id: str | None, audience: Iterable[str]) -> FakeStoredEvent:
        stored = FakeStoredEvent(str(uuid.uuid4()), event, aggregate_id, aggregate_version,
                                 request_id, tuple(sorted(set(audience))))
        self.appended.append(stored)
        return stored

    def append_all(self, recorded: Iterable[tuple[Event, str, int]], *,
                   request_id: str | None, audience: Iterable[str]) -> list[FakeStoredEvent]:
        return [
            self.append(event, aggregate_id=aggregate_id, aggregate_version=version,
                        request_id=request_id, audience=audience)
            for event, aggregate_id, version in recorded
        ]


class FakeUnitOfWork:
    def __init__(self, database: FakeDatabase | None = None) -> None:
        self.database = database or FakeDatabase()
        self.committed = False
        self._begin()

    def _begin(self) -> None:
        self.orders = FakeOrderRepository(self.database.orders)
        self.notifications = FakeNotificationRepository()
        self.commands = FakeCommandLog(copy.deepcopy(self.database.commands))
        self.outbox = FakeOutbox()

    def __enter__(self) -> "FakeUnitOfWork":
        self._begin()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Whatever was not committed is dropped with the copies."""

    def collect_new_events(self) -> list[RecordedEvent]:
        collected: list[RecordedEvent] = []
        for aggregate in (*self.orders.seen.values(), *self.notifications.seen.values()):
            collected.extend(aggregate.collect_events())
        return collected

    def audience(self, session_id: str | None) -> set[str]:
        sessions = {order.owner_session for order in self.orders.seen.values()}
        sessions.add(session_id)
        return {session for session in sessions if session}

    def save_aggregates(self) -> None:
        """Nothing to do: the fake keeps what it has seen, and commit() writes it back."""

    def commit(self) -> None:
        self.orders.saved.update(self.orders.seen)
        self.database.commands = self.commands.rows
        self.commands = FakeCommandLog(copy.deepcopy(self.commands.rows))
        self.database.events.extend(self.outbox.appended)
        self.database.commits += 1
        self.committed = True
