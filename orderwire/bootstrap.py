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
from orderwire.attempt_counter import RedisAttemptCounter
from orderwire.bus import MessageBus
from orderwire.config import Settings
from orderwire.db.engine import make_engine
from orderwire.db.retention import Retention
from orderwire.db.unit_of_work import SqlAlchemyUnitOfWork
from orderwire.metrics import MetricsRecorder
from orderwire.outbox.deliveries.delivery import SubscriberDelivery
from orderwire.outbox.deliveries.subscriptions import Subscription, subscriptions_from
from orderwire.outbox.publisher import RedisEventPublisher
from orderwire.outbox.relay import OutboxRelay, PublishAndCount
from orderwire.pipeline import Step, compose
from orderwire.pipeline.attempts import CountAttempt, CountInLogWithoutCounter
from orderwire.pipeline.execution import Execution, Outcome
from orderwire.pipeline.handle import HandleCommand
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
    subscriptions: list[Subscription] = field(default_factory=list)  # the same, per subscriber
    metrics: MetricsRecorder | None = None  # counts and latencies for GET /metrics
    deliveries: SubscriberDelivery | None = None  # the relay's after-commit delivery job
    attempts: RedisAttemptCounter | None = None  # each command's attempts while it runs
    retention: Retention | None = None  # prunes published events and finished commands

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

    publish = PublishAndCount(publisher, also=metrics.count_published)
    subscriptions = subscriptions_from(subscribers_by_type)
    relay = OutboxRelay(engine, publish, published_ids=publisher)
    unit_of_work = partial(SqlAlchemyUnitOfWork, engine)
    verdicts = Verdicts(unit_of_work, relay.publish_own)
    policy = retry_policy or RetryPolicy(max_attempts=settings.command_max_attempts)
    bus = MessageBus(
        command_handlers or registry.COMMAND_HANDLERS, registry.IN_TRANSACTION_SUBSCRIBERS
    )
    # Every redelivery of a command comes within the visibility timeout or the sweeper's
    # interval; its attempt count is needed no longer than that, max_attempts times over.
    count_ttl = max(settings.visibility_timeout, settings.sweep_running_after) * (
        policy.max_attempts + 1
    )
    # One write transaction per attempt: RunInTransaction opens it, and everything after
    # it (counting, building, handling, a verdict) happens inside (docs/benchmarks.md).
    attempts = RedisAttemptCounter(
        redis_client,
        ttl_seconds=count_ttl,
        # Under Sentinel the counter follows the master like every other client.
        own_client=make_redis_client(settings, socket_timeout=0.5, socket_connect_timeout=0.5)
        if settings.redis_sentinels
        else None,
    )
    pipeline = compose(
        [
            log_command,
            MeasureCommand(metrics),
            # Around the retries: a command waiting between attempts is held too.
            HoldLease(
                engine, renew_every=settings.lease_renew_seconds, renew_attempts=attempts.renew
            ),
            RetryTransient(verdicts, policy, give_up_on=(SoftTimeLimitExceeded,)),
            CountInLogWithoutCounter(unit_of_work),
            RunInTransaction(unit_of_work, relay.publish_own),
            CountAttempt(attempts, verdicts, max_attempts=policy.max_attempts),
            BuildCommand(verdicts),
        ],
        HandleCommand(bus),
    )
    sweeper = CommandSweeper(
        engine,
        queue.enqueue_command,
        accepted_after=timedelta(seconds=settings.sweep_accepted_after),
        running_after=timedelta(seconds=settings.sweep_running_after),
        attempted_since=attempts.started_since,
    )
    return Orderwire(
        settings=settings,
        engine=engine,
        redis=redis_client,
        celery=celery,
        queue=queue,
        relay=relay,
        sweeper=sweeper,
        deliveries=SubscriberDelivery(
            engine,
            subscriptions,
            max_attempts=settings.delivery_max_attempts,
            # Longer than a command's transaction can stay open (settled.py).
            gap_settle=timedelta(seconds=settings.task_time_limit + 30),
        ),
        pipeline=pipeline,
        after_commit_subscribers=subscribers_by_type,
        subscriptions=subscriptions,
        metrics=metrics,
        attempts=attempts,
        retention=Retention(
            engine,
            keep=timedelta(days=settings.retention_days),
            subscribers=[subscription.name for subscription in subscriptions],
        ),
    )
