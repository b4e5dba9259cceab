"""Celery's consumer, reconnecting to the broker at most a second after it answers again.

Celery's consumer retries a lost broker connection with kombu's default back-off,
2, 4, 6 … up to 30 s between attempts, so a worker could stay idle for many seconds
after a restarted Redis was back. Attempts here come every 0.5 to 1 s instead: one cheap
TCP connect each while Redis is away, and commands flow again within a second of its
return. Selected by `worker_consumer` in worker/celery_app.py.
"""

import functools
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer

RETRY_INTERVALS = {"interval_start": 0.5, "interval_step": 0.5, "interval_max": 1.0}


class QuickReconnectConsumer(CeleryConsumer):
    def ensure_connected(self, conn: Any) -> Any:
        # Celery calls conn.ensure_connection(errback, max_retries, callback=...) with
        # no intervals; give it ours.
        conn.ensure_connection = functools.partial(conn.ensure_connection, **RETRY_INTERVALS)
        return super().ensure_connected(conn)
