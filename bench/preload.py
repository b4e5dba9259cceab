"""History for `--preload N`: N finished commands, N orders and N published events, inserted
in batches before the benchmark starts, as a long-running deployment would have them (the
benchmark's own commands then run on top; docs/benchmarks.md)."""

import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from orderwire.db.tables import commands, events, orders

BATCH = 10_000
COMMAND_NAMES = ("PlaceOrder", "PayOrder", "ShipOrder", "CancelOrder")


def seed(engine: Engine, rows: int, *, with_orders: bool = True, age: timedelta = timedelta(0)
         ) -> float:
    """Insert `rows` of each kind, `age` old; returns the seconds it took."""
    started = time.perf_counter()
    when = datetime.now(UTC) - age
    for start in range(0, rows, BATCH):
        size = min(BATCH, rows - start)
        order_ids = [str(uuid.uuid4()) for _ in range(size)]
        with engine.begin() as connection:
            connection.execute(insert(commands), [
                {"command_id": str(uuid.uuid4()), "request_id": str(uuid.uuid4()),
                 "command": COMMAND_NAMES[i % 4],
                 "payload": {}, "fingerprint": "-", "session_id": None,
                 "order_id": order_ids[i], "status": "succeeded", "attempts": 1,
                 "accepted_at": when, "finished_at": when, "touched_at": when}
                for i in range(size)
            ])
            if with_orders:
                connection.execute(insert(orders), [
                    {"order_id": order_id, "customer_name": "History", "lines": [],
                     "total": 0, "status": "placed", "version": 1, "owner_session": None,
                     "placed_at": when, "updated_at": when}
                    for order_id in order_ids
                ])
            connection.execute(insert(events), [
                {"event_id": str(uuid.uuid4()), "type": "OrderPlaced",
                 "aggregate_id": order_id, "aggregate_version": 1, "request_id": None,
                 "audience": [], "envelope": "{}", "occurred_at": when, "published_at": when}
                for order_id in order_ids
            ])
    return time.perf_counter() - started
