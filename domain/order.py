"""The Order aggregate: placed -> paid -> shipped; cancel is allowed until shipped."""

from decimal import Decimal
from enum import StrEnum

from domain.aggregate import Aggregate
from domain.commands import CancelOrder, Command, OrderLine, PayOrder, ShipOrder
from domain.errors import IllegalTransition
from domain.events import Event, OrderCancelled, OrderPaid, OrderPlaced, OrderShipped


class OrderStatus(StrEnum):
    PLACED = "placed"
    PAID = "paid"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


# The lifecycle, in two tables the aggregate decides by and the page renders into its
# markup (web/actions.py, templates/base.html), so the page script keeps no copy of them.
# The statuses in which each command on an existing order is allowed:
ALLOWED_IN: dict[type[Command], frozenset[OrderStatus]] = {
    PayOrder: frozenset({OrderStatus.PLACED}),
    ShipOrder: frozenset({OrderStatus.PAID}),
    CancelOrder: frozenset({OrderStatus.PLACED, OrderStatus.PAID}),
}
# The status each order event leaves the order in:
STATUS_AFTER: dict[type[Event], OrderStatus] = {
    OrderPlaced: OrderStatus.PLACED,
    OrderPaid: OrderStatus.PAID,
    OrderShipped: OrderStatus.SHIPPED,
    OrderCancelled: OrderStatus.CANCELLED,
}


def allowed_commands(status: str) -> frozenset[type[Command]]:
    """The commands an order in `status` takes (none for a status that is not an order's)."""
    return frozenset(command for command, statuses in ALLOWED_IN.items() if status in statuses)


class Order(Aggregate):
    def __init__(
        self,
        order_id: str,
        customer_name: str,
        lines: tuple[OrderLine, ...],
        status: OrderStatus = OrderStatus.PLACED,
        version: int = 0,
        owner_session: str | None = None,
    ) -> None:
        super().__init__(order_id, version)
        self.order_id = order_id
        self.customer_name = customer_name
        self.lines = tuple(lines)
        self.status = OrderStatus(status)
        self.owner_session = owner_session

    @classmethod
    def place(
        cls,
        order_id: str,
        customer_name: str,
        lines: tuple[OrderLine, ...],
        owner_session: str | None = None,
    ) -> "Order":
        order = cls(order_id, customer_name, lines, owner_session=owner_session)
        order._apply(
            OrderPlaced(
                order_id=order_id,
                customer_name=customer_name,
                lines=tuple(line.as_dict() for line in order.lines),
                total=order.total,
            )
        )
        return order

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal("0"))

    def pay(self) -> None:
        self._refuse_unless(
            PayOrder,
            {
                OrderStatus.PAID: ("order_already_paid", "this order is already paid"),
                OrderStatus.SHIPPED: ("order_already_shipped", "this order is already shipped"),
                OrderStatus.CANCELLED: ("order_cancelled", "a cancelled order cannot be paid"),
            },
        )
        self._apply(OrderPaid(order_id=self.order_id, total=self.total))

    def ship(self) -> None:
        self._refuse_unless(
            ShipOrder,
            {
                OrderStatus.PLACED: ("order_not_paid", "an order must be paid before it ships"),
                OrderStatus.SHIPPED: ("order_already_shipped", "this order is already shipped"),
                OrderStatus.CANCELLED: ("order_cancelled", "a cancelled order cannot ship"),
            },
        )
        self._apply(OrderShipped(order_id=self.order_id))

    def cancel(self, reason: str) -> None:
        self._refuse_unless(
            CancelOrder,
            {
                OrderStatus.SHIPPED: (
                    "order_already_shipped",
                    "a shipped order can no longer be cancelled",
                ),
                OrderStatus.CANCELLED: (
                    "order_already_cancelled",
                    "this order is already cancelled",
                ),
            },
        )
        self._apply(OrderCancelled(order_id=self.order_id, reason=reason))

    def _apply(self, event: Event) -> None:
        """Record `event` and move to the status it leaves the order in (STATUS_AFTER)."""
        self.status = STATUS_AFTER[type(event)]
        self.record(event)

    def _refuse_unless(
        self, command: type[Command], refusals: dict[OrderStatus, tuple[str, str]]
    ) -> None:
        """Go on if ALLOWED_IN lets `command` act in this status, else refuse with the code
        and message `refusals` gives for it; a status it does not name (one added later)
        still gets a clear refusal, never a KeyError."""
        if self.status in ALLOWED_IN[command]:
            return
        code, message = refusals.get(
            self.status,
            (f"order_{self.status}", f"an order that is {self.status} cannot take {command.name}"),
        )
        raise IllegalTransition(message, code=code)

