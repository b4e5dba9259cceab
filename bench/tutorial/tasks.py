"""The tutorial's Celery app and its one task: `celery --app bench.tutorial.tasks worker`.

Environment: REDIS_URL (broker and channels), TUTORIAL_DATABASE_URL.
"""

import json
import os
from decimal import Decimal
from typing import Any

import redis
from celery import Celery
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    func,
    insert,
)

from orderwire.config import Settings
from orderwire.db.engine import make_engine
from orderwire.task_queue import create_celery

TUTORIAL_QUEUE = "tutorial"
PLACE_ORDER_TASK = "tutorial.place_order"

metadata = MetaData()
orders = Table(
    "tutorial_orders", metadata,
    Column("order_id", String(36), primary_key=True),
    Column("session_id", String(64), nullable=False),
    Column("customer_name", String(200), nullable=False),
    Column("total", Numeric(12, 2), nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)
order_lines = Table(
    "tutorial_order_lines", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", ForeignKey("tutorial_orders.order_id"), nullable=False),
    Column("product", String(200), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Numeric(12, 2), nullable=False),
)


def session_channel(session_id: str) -> str:
    return f"tutorial.session.{session_id}"


def make_tutorial_celery(settings: Settings) -> Celery:
    """orderwire's Celery configuration, on the tutorial's own queue."""
    app = create_celery(settings)
    app.conf.task_default_queue = TUTORIAL_QUEUE
    app.conf.worker_hijack_root_logger = True
    return app


class _Connections:
    """The worker child's engine and Redis client, made after the fork, on first use."""

    engine: Engine | None = None
    client: redis.Redis | None = None

    def get(self) -> tuple[Engine, redis.Redis]:
        if self.engine is None or self.client is None:
            self.engine = make_engine(os.environ["TUTORIAL_DATABASE_URL"])
            self.client = redis.Redis.from_url(os.environ["REDIS_URL"])
        return self.engine, self.client


_connections = _Connections()
app = make_tutorial_celery(Settings.from_env())


@app.task(name=PLACE_ORDER_TASK)
def place_order(data: dict[str, Any]) -> None:
    """Insert the order and its lines in one transaction, then tell the session's page."""
    engine, client = _connections.get()
    lines = data["lines"]
    total = sum(Decimal(line["unit_price"]) * line["quantity"] for line in lines)
    with engine.begin() as connection:
        connection.execute(insert(orders), {
            "order_id": data["order_id"], "session_id": data["session_id"],
            "customer_name": data["customer_name"], "total": total,
        })
        connection.execute(insert(order_lines), [
            {"order_id": data["order_id"], "product": line["product"],
             "quantity": line["quantity"], "unit_price": Decimal(line["unit_price"])}
            for line in lines
        ])
    event = {"type": "OrderPlaced", "request_id": data["request_id"],
             "data": {"order_id": data["order_id"], "total": str(total)}}
    client.publish(session_channel(data["session_id"]),
                   json.dumps({"kind": "event", "event": event}))
