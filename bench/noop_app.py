"""The baseline: bare Celery with one no-op task, configured exactly as orderwire's Celery
(same broker, acks_late, prefetch 1, task events on), on its own queue so that
orderwire's workers never see its tasks. Start it as `celery --app bench.noop_app worker`.
"""

from celery import Celery

from orderwire.config import Settings
from orderwire.task_queue import create_celery

NOOP_QUEUE = "bench-noop"
NOOP_TASK = "bench.noop"


def make_noop_celery(settings: Settings) -> Celery:
    app = create_celery(settings)
    app.conf.task_default_queue = NOOP_QUEUE
    app.conf.worker_hijack_root_logger = True

    @app.task(name=NOOP_TASK)
    def noop(request_id: str) -> None:
        """Does nothing: what is left is Celery's own cost per task."""

    return app


app = make_noop_celery(Settings.from_env())
