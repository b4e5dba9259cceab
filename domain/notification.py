"""Customer notifications (Griffin.Decoupled's notification table): one per order event."""

from domain.aggregate import Aggregate
from domain.events import (
    Event,
    NotificationCreated,
    OrderCancelled,
    OrderPaid,
    OrderPlaced,
    OrderShipped,
)
from domain.money import money_text


class Notification(Aggregate):
    def __init__(self, notification_id: str, order_id: str, text: str, version: int = 0) -> None:
        super().__init__(notification_id, version)
        self.notification_id = notification_id
        self.order_id = order_id
        self.text = text

    @classmethod
    def create(cls, notification_id: str, order_id: str, text: str) -> "Notification":
        notification = cls(notification_id, order_id, text)
        notification.record(NotificationCreated(notification_id=notification_id, text=text))
        return notification


def notification_text(event: Event) -> str:
    """What the customer reads about an order event."""
    match event:
        case OrderPlaced(customer_name=name, total=total):
            return f"Thank you, {name}: your order of {money_text(total)} is placed."
        case OrderPaid(total=total):
            return f"We received your payment of {money_text(total)}."
        case OrderShipped():
            return "Your order is on its way."
        case OrderCancelled(reason=reason):
            return f"Your order was cancelled: {reason}"
    raise ValueError(f"no notification for {type(event).__name__}")
