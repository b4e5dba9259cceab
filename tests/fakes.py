"""In-memory stand-ins for the unit of work, for handler tests through the bus."""

from domain.events import RecordedEvent
from domain.notification import Notification
from domain.order import Order


class FakeOrderRepository:
    def __init__(self) -> None:
        self.saved: dict[str, Order] = {}
        self.seen: dict[str, Order] = {}

    def get(self, order_id: str) -> Order | None:
        order = self.saved.get(order_id)
        if order is not None:
            self.seen[order_id] = order
        return order

    def add(self, order: Order) -> None:
        self.seen[order.order_id] = order


class FakeNotificationRepository:
    def __init__(self) -> None:
        self.seen: dict[str, Notification] = {}

    def add(self, notification: Notification) -> None:
        self.seen[notification.notification_id] = notification


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.orders = FakeOrderRepository()
        self.notifications = FakeNotificationRepository()
        self.committed = False

    def collect_new_events(self) -> list[RecordedEvent]:
        collected: list[RecordedEvent] = []
        for aggregate in (*self.orders.seen.values(), *self.notifications.seen.values()):
            collected.extend(aggregate.collect_events())
        return collected

    def commit(self) -> None:
        self.orders.saved.update(self.orders.seen)
        self.committed = True
