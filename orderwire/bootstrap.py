"""The one bootstrap: every process (web, worker, relay, tests) wires orderwire here.

Nothing is created at import time; `bootstrap()` makes the engine, the Redis
client, the Celery client, the outbox relay and the command pipeline, and
returns them together. Tests pass their own pieces in.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

import redis
from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import Engine

from orderwire import registry
from orderwire.bus import MessageBus
from orderwire.config import Settings
from orderwire.db.engine import make_engine
from orderwire.db.outbox import OutboxEvent
from orderwire.delivery_sweeper import DeliverySweeper
from orderwire.messaging.publisher import RedisEventPublisher
from orderwire.messaging.relay import OutboxRelay
from orderwire.metrics import MetricsRecorder
from orderwire.pipeline import Step, compose
from orderwire.pipeline.execution import Execution, Outcome
from orderwire.pipeline.handle import HandleCommand
from orderwire.pipeline.idempotency import SkipFinished
from orderwire.pipeline.lease import HoldLease
from orderwire.pipeline.logs import log_command
from orderwire.pipeline.measure import MeasureCommand
from orderwire.pipeline.retries import RetryPolicy, RetryTransient
from orderwire.pipeline.transaction import RunInTransaction
from orderwire.pipeline.validation import BuildCommand
from orderwire.pipeline.verdicts import Verdicts
from orderwire.redis_clients import redis_client as make_redis_client
from orderwire.sweeper import CommandSweeper
from orderwire.task_queue import CommandQueue, create_celery


@dataclass
class Orderwire:
    settings: Settings
    engine: Engine
    redis: redis.Redis
    celery: Celery
    queue: CommandQueue
    relay: OutboxRelay
    sweeper: CommandSweeper
    pipeline: Step
    after_commit_subscribers: dict[str, list[Any]] = field(default_factory=dict)
    metrics: MetricsRecorder | None = None  # counts and latencies for GET /metrics
    delivery_sweeper: DeliverySweeper | None = None  # re-sends lost after-commit deliveries

    def execute(self, command_id: str, *, request_id: str | None = None) -> Outcome:
        """Run one accepted command through the pipeline (what a worker task does, giving
        its task id, the request id, so that its first log line names it already)."""
        return self.pipeline(Execution(command_id, delivered_as=request_id))


def bootstrap(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    redis_client: redis.Redis | None = None,
    celery: Celery | None = None,
    retry_policy: RetryPolicy | None = None,
    command_handlers: dict[type, Callable[..., dict[str, Any]]] | None = None,
    after_commit_subscribers: dict[str, list[Any]] | None = None,
) -> Orderwire:
    settings = settings or Settings.from_env()
    engine = engine or make_engine(settings.database_url)
    redis_client = redis_client or make_redis_client(settings)
    celery = celery or create_celery(settings)
    queue = CommandQueue(celery)
    subscribers_by_type = (
        registry.AFTER_COMMIT_SUBSCRIBERS
        if after_commit_subscribers is None
        else after_commit_subscribers
    )
    publisher = RedisEventPublisher(
        redis_client,
        history_length=settings.history_length,
        feed_maxlen=settings.feed_maxlen,
        replicas=1 if settings.redis_sentinels else 0,
    )
    metrics = MetricsRecorder(redis_client)

    def publish(batch: list[OutboxEvent]) -> None:
        publisher.publish(batch, also=partial(metrics.count_published, batch))
        for event in batch:
            for subscriber in subscribers_by_type.get(event.type, []):
                queue.enqueue_subscriber(subscriber.__name__, event.event_id)

    relay = OutboxRelay(engine, publish)
    verdicts = Verdicts(engine, relay.publish_own)
    bus = MessageBus(
        command_handlers or registry.COMMAND_HANDLERS, registry.IN_TRANSACTION_SUBSCRIBERS
    )
    pipeline = compose(
        [
            log_command,
            SkipFinished(engine),
            MeasureCommand(metrics),
            BuildCommand(verdicts),
            HoldLease(engine, renew_every=settings.lease_renew_seconds),
            RetryTransient(
                engine,
                verdicts,
                retry_policy or RetryPolicy(max_attempts=settings.command_max_attempts),
                give_up_on=(SoftTimeLimitExceeded,),
            ),
            RunInTransaction(engine, relay.publish_own),
        ],
        HandleCommand(bus),
    )
    sweeper = CommandSweeper(
        engine,
        queue.enqueue_command,
        accepted_after=timedelta(seconds=settings.sweep_accepted_after),
        running_after=timedelta(seconds=settings.sweep_running_after),
    )
    return Orderwire(
        settings=settings,
        engine=engine,
        redis=redis_client,
        celery=celery,
        queue=queue,
        relay=relay,
        sweeper=sweeper,
        delivery_sweeper=DeliverySweeper(engine, queue.enqueue_subscriber, subscribers_by_type),
        pipeline=pipeline,
        after_commit_subscribers=subscribers_by_type,
        metrics=metrics,
    )
