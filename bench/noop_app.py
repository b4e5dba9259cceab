"""The floor: bare Celery with one no-op task, configured exactly as orderwire's Celery
(same broker, acks_late, prefetch 1, task events on), on its own queue and its own Redis
database (so that neither orderwire's Flower nor the tutorial's sees its events). Start
it as `celery --app bench.noop_app worker`.

The task's only act is one PUBLISH of its id on `NOOP_SIGNAL_CHANNEL`: the benchmark
measures the floor both ways, enqueue -> `task-succeeded` event (which includes the
result, the ack and the event round trip) and enqueue -> the signal sent from inside the
task (where orderwire's frame leaves from).
"""

import redis
from celery import Celery

from orderwire.config import Settings
from orderwire.task_queue import create_celery

NOOP_QUEUE = "bench-noop"
NOOP_TASK = "bench.noop"
NOOP_SIGNAL_CHANNEL = "bench.noop.signal"


def make_noop_celery(settings: Settings) -> Celery:
    app = create_celery(settings)
    app.conf.task_default_queue = NOOP_QUEUE
    app.conf.worker_hijack_root_logger = True
    clients: dict[str, redis.Redis] = {}  # the pool child's client, made after the fork

    @app.task(name=NOOP_TASK)
    def noop(request_id: str) -> None:
        """Signals that it ran: what is left is Celery's own cost per task."""
        if "redis" not in clients:
            clients["redis"] = redis.Redis.from_url(settings.redis_url)
        clients["redis"].publish(NOOP_SIGNAL_CHANNEL, request_id)

    return app


app = make_noop_celery(Settings.from_env())
