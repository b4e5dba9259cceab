"""Repositories: aggregates in and out of their tables. Each remembers what it has `seen`."""


from sqlalchemy import bindparam, insert, select, update

from domain.commands import OrderLine
from domain.notification import Notification
from domain.order import Order
from orderwire.db.engine import utcnow
from orderwire.db.prepared import OnDriver, Prepared
from orderwire.db.tables import notifications, orders


class ConcurrencyConflict(Exception):
    """Someone else changed the aggregate since we loaded it: a transient failure, retried."""


# Built once, with bind parameters, and run prepared (orderwire/db/prepared.py): a statement
# built per call (its `.values()` and its cache key), or run through SQLAlchemy's execution
# context, cost a worker more CPU than the statement itself (docs/benchmarks.md).
_GET_ORDER = select(orders).where(orders.c.order_id == bindparam("the_order_id"))
GET_ORDER = Prepared(_GET_ORDER)
GET_ORDER_LOCKED = Prepared(_GET_ORDER.with_for_update())
INSERT_ORDER = Prepared(insert(orders))
UPDATE_ORDER = Prepared(
    update(orders)
    .where(
        orders.c.order_id == bindparam("the_order_id"),
        orders.c.version == bindparam("loaded_version"),
    )
    .values(
        status=bindparam("status"),
        version=bindparam("version"),
        updated_at=bindparam("updated_at"),
    )
)
# A notification is for the session that owns its order, which this transaction may have
# just inserted: read it there rather than trust the caller.
INSERT_NOTIFICATION = Prepared(
    insert(notifications).values(
        session_id=select(orders.c.owner_session)
        .where(orders.c.order_id == bindparam("notified_order_id"))
        .scalar_subquery()
    )
)


class SqlOrderRepository:
    def __init__(self, connection: OnDriver, *, lock_rows: bool) -> None:
        self.connection = connection
        self.lock_rows = lock_rows
        self.seen: dict[str, Order] = {}
        self._loaded_versions: dict[str, int] = {}

    def get(self, order_id: str) -> Order | None:
        if order_id in self.seen:
            return self.seen[order_id]
        # Locked on PostgreSQL: serialises commands on one order, so its events commit in
        # version order.
        query = GET_ORDER_LOCKED if self.lock_rows else GET_ORDER
        row = query.first(self.connection, {"the_order_id": order_id})
        if row is None:
            return None
        order = Order(
            row["order_id"],
            row["customer_name"],
            tuple(OrderLine.from_dict(line) for line in row["lines"]),
            row["status"],
            row["version"],
            row["owner_session"],
        )
        self.seen[order_id] = order
        self._loaded_versions[order_id] = order.version
        return order

    def add(self, order: Order) -> None:
        self.seen[order.order_id] = order

    def save(self) -> None:
        now = utcnow()
        for order_id, order in self.seen.items():
            values = {
                "status": str(order.status),
                "version": order.version,
                "updated_at": now,
            }
            if order_id not in self._loaded_versions:
                INSERT_ORDER.execute(
                    self.connection,
                    {
                        "order_id": order_id,
                        "customer_name": order.customer_name,
                        "lines": [line.as_dict() for line in order.lines],
                        "total": order.total,
                        "owner_session": order.owner_session,
                        "placed_at": now,
                        **values,
                    },
                )
                continue
            loaded = self._loaded_versions[order_id]
            if loaded == order.version:
                continue
            changed = UPDATE_ORDER.execute(
                self.connection, {"the_order_id": order_id, "loaded_version": loaded, **values}
            )
            if changed != 1:
                raise ConcurrencyConflict(f"order {order_id} changed under us")


class SqlNotificationRepository:
    def __init__(self, connection: OnDriver) -> None:
        self.connection = connection
        self.seen: dict[str, Notification] = {}

    def add(self, notification: Notification) -> None:
        self.seen[notification.notification_id] = notification

    def save(self) -> None:
        for notification in self.seen.values():
            INSERT_NOTIFICATION.execute(
                self.connection,
                {
                    "notification_id": notification.notification_id,
                    "order_id": notification.order_id,
                    "notified_order_id": notification.order_id,
                    "text": notification.text,
                    "created_at": utcnow(),
                },
            )
        self.seen.clear()
