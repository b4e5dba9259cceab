"""SqlAlchemyUnitOfWork: one transaction, the repositories on it, and the events it collects.

Besides the aggregates' repositories it carries the command log (`commands`) and the
outbox (`outbox`), so that a command's status, its effect and its events are written
through one object and commit together, as cosmicpython's unit of work holds its
repositories.
"""

from types import TracebackType

from sqlalchemy import Engine

from domain.events import RecordedEvent
from orderwire.db.command_log import SqlCommandLog
from orderwire.db.driver_transaction import DriverTransaction
from orderwire.db.engine import is_postgres
from orderwire.db.repositories import SqlNotificationRepository, SqlOrderRepository
from orderwire.outbox.store import SqlOutbox


class SqlAlchemyUnitOfWork:
    """Use as `with uow:`; nothing is written unless `commit()` is called before leaving.

    Its statements are all prepared (orderwire/db/prepared.py), so it runs on a driver
    transaction from the engine's pool rather than a SQLAlchemy Connection, which cost the
    command path a tenth of its CPU (orderwire/db/driver_transaction.py)."""

    connection: DriverTransaction

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> "SqlAlchemyUnitOfWork":
        self.connection = DriverTransaction(self.engine).__enter__()
        # SQLite locks the whole database for a writer (BEGIN IMMEDIATE); PostgreSQL locks rows.
        self.orders = SqlOrderRepository(self.connection, lock_rows=is_postgres(self.engine))
        self.notifications = SqlNotificationRepository(self.connection)
        self.commands = SqlCommandLog(self.connection)
        self.outbox = SqlOutbox(self.connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.connection.__exit__(exc_type, exc, traceback)  # rolls back what was not committed

    def collect_new_events(self) -> list[RecordedEvent]:
        """Events recorded since the last call, by every aggregate loaded or added."""
        collected: list[RecordedEvent] = []
        for aggregate in (*self.orders.seen.values(), *self.notifications.seen.values()):
            collected.extend(aggregate.collect_events())
        return collected

    def audience(self, session_id: str | None) -> set[str]:
        """Who sees this transaction's events: the sender and the owners of the orders touched."""
        sessions = {order.owner_session for order in self.orders.seen.values()}
        sessions.add(session_id)
        return {session for session in sessions if session}

    def save_aggregates(self) -> None:
        self.orders.save()
        self.notifications.save()

    def commit(self) -> None:
        self.connection.commit()
