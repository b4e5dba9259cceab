"""What the handlers need from the outside world, as protocols the adapters implement."""

from dataclasses import dataclass
from typing import Protocol

from domain.notification import Notification
from domain.order import Order


class OrderRepository(Protocol):
    def get(self, order_id: str) -> Order | None:
        """The order, locked for this unit of work, or None."""

    def add(self, order: Order) -> None: ...


class NotificationRepository(Protocol):
    def add(self, notification: Notification) -> None: ...


class UnitOfWork(Protocol):
    orders: OrderRepository
    notifications: NotificationRepository


@dataclass(frozen=True)
class CommandContext:
    """Who asked: the command's request id and the session that submitted it."""

    request_id: str
    session_id: str | None = None
