"""The Celery app's configuration and how commands are handed to it.

Each setting below is there for a promise in the README ("What orderwire promises"):

- `task_acks_late` + `task_reject_on_worker_lost`: a message is acknowledged only
  after the task ran; if the worker process dies mid-task, the message goes back.
- `worker_prefetch_multiplier = 1`: a worker holds one unacknowledged command at a
  time, so a killed worker strands at most one (and the sweeper finds it).
- `visibility_timeout` (300 s) > `task_time_limit` (90 s) + the retries' backoff:
  the Redis transport redelivers unacknowledged messages after it, and must not
  do so while the first delivery may still be running.
- the Redis transport of orderwire/broker_transport.py for every app (`install()` makes it
  serve the `redis://`, `rediss://` and `sentinel://` schemes, so URLs and Flower's Broker
  page are unchanged): one sending client per channel instead of one built per message,
  and a channel that closes cleanly when Redis dies.
- no result backend: outcomes live in the command log, where the web reads them.
- worker events on (`worker_send_task_events`): Flower shows every command from the moment
  a worker receives it. The `task-sent` event is off: it cost the web a second Redis
  publish per command (about 7% of its CPU; docs/benchmarks.md), and what it would show,
  commands waiting for a worker, `/metrics` shows as `orderwire_queue_depth`.
"""

import logging

from celery import Celery

from orderwire import broker_transport
from orderwire.config import Settings
from orderwire.redis_clients import celery_broker
from orderwire.redis_outage import RedisOutage

log = logging.getLogger("orderwire.queue")


def command_task_name(command: str) -> str:
    return f"orderwire.{command}"


def create_celery(settings: Settings) -> Celery:
    # kombu's Redis transport, sending through one client and surviving Redis restarting.
    broker_transport.install()
    broker_url, transport_options = celery_broker(settings)
    app = Celery("orderwire", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout,
            **transport_options,  # Sentinel: the master's name (orderwire/redis_clients.py)
        },
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_send_task_events=True,
        task_send_sent_event=False,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        # The web answers 202 only after the command is stored; if Redis is down the
        # enqueue gives up quickly and the sweeper sends the command later.
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    return app


class CommandQueue:
    """Sends commands to Celery by name (the web imports no tasks)."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery
        self.outage = RedisOutage("command queue", log)

    def enqueue_command(self, command: str, request_id: str, command_id: str) -> None:
        """The task id is the request id, as the contract says; the argument is the command
        id, because a request id is unique only within its session."""
        self._send(command_task_name(command), args=[command_id], task_id=request_id)

    def _send(self, name: str, *, args: list[str], task_id: str) -> None:
        try:
            self.celery.send_task(name, args=args, task_id=task_id)
        except Exception as error:
            self.outage.lost(error)
            raise
        self.outage.answered()
