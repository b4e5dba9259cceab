"""Every metric orderwire exposes on `GET /metrics`, defined in this one module.

The numbers come from three kinds of process: the web, the Celery worker's pool
children and the relay, which docker-compose runs in separate containers.
prometheus-client's multiprocess mode adds up only processes that share one
directory on one host, so orderwire does not use it. Instead:

- what happens (a command accepted or finished, its latencies, an event
  published) is counted where it happens, in Redis hashes, by whichever process it
  is; the web reads them back at scrape time. Counting costs the request or task no
  Redis round trip: observations are added up in the process and sent in the
  background every `flush_interval` (1 s) as a few HINCRBYs in one round trip, or
  riding in a pipeline that publishes events if none went for that long; a scrape
  first sends what its own process holds;
- what is in progress (unfinished commands, the outbox backlog) is counted in the
  database at scrape time, through indexes that only see unfinished rows;
- the Celery queue's depth is read from Redis at scrape time;
- open websockets are the scraped web process's own count;
- which workers consume, and how long ago they last did, is read from Redis at scrape
  time (orderwire/worker_liveness.py).

So every web process answers with the same global numbers, except
`orderwire_websocket_connections` and `process_*`, which are its own. Counters
live as long as Redis keeps its data; if Redis loses it they restart from zero,
which Prometheus's rate() treats as any counter reset. Recording never fails a
command: while Redis is away, observations are dropped (as are the last second's of
a process that is killed).
"""

import atexit
import json
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from redis.client import Pipeline
from sqlalchemy import Engine

from domain.commands import COMMAND_TYPES
from orderwire import worker_liveness
from orderwire.db import stats
from orderwire.db.command_log import UNFINISHED
from orderwire.db.engine import utcnow
from orderwire.outbox.store import OutboxEvent

log = logging.getLogger("orderwire.metrics")

REDIS_PREFIX = "orderwire:metrics:"
INF = float("inf")


@dataclass(frozen=True)
class HistogramSpec:
    name: str
    documentation: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...]  # upper bounds, ascending; +Inf is implied

    @property
    def key(self) -> str:
        return REDIS_PREFIX + self.name


END_TO_END = HistogramSpec(
    "orderwire_command_end_to_end_seconds",
    "From a command's acceptance (202) until a worker committed its outcome and published "
    "its events, by command and final status.",
    ("command", "status"),
    (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600),
)
EXECUTION = HistogramSpec(
    "orderwire_command_execution_seconds",
    "Time a worker spent carrying out a command once it picked it up: every attempt with its "
    "retry backoff, the handler's transaction and commit, and publishing its events.",
    ("command", "status"),
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 90),
)
ACCEPTED_KEY = REDIS_PREFIX + "orderwire_commands_accepted"
PUBLISHED_KEY = REDIS_PREFIX + "orderwire_events_published"


def _field(label_values: Sequence[str], part: str) -> str:
    return json.dumps([*label_values, part])


def _bucket_of(value: float, buckets: tuple[float, ...]) -> str:
    return floatToGoString(next((bound for bound in buckets if value <= bound), INF))


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; orderwire only ever stores UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


Change = tuple[str, str, float]  # (hash key, field, amount)


def _queue(pipe: Pipeline, changes: list[Change]) -> None:
    for key, field, amount in changes:
        if isinstance(amount, int):
            pipe.hincrby(key, field, amount)
        else:
            pipe.hincrbyfloat(key, field, amount)


class MetricsRecorder:
    """The counting side, used where things happen: the web's intake, the worker's
    pipeline, the fast path and the relay. Never raises, never waits for Redis: it adds
    observations up in memory, and a background thread (started on first use, so after
    any fork) sends them."""

    def __init__(self, client: redis.Redis, *, flush_interval: float = 1.0) -> None:
        self.client = client
        self.flush_interval = flush_interval
        self._pending: dict[tuple[str, str], float] = defaultdict(int)
        self._lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._flusher_pid: int | None = None
        self._last_sent = -INF  # time.monotonic() of the last send, flushed or ridden

    def command_accepted(self, command: str) -> None:
        self._add([(ACCEPTED_KEY, _field((command,), "count"), 1)])

    def command_finished(
        self, command: str, status: str, *, execution_seconds: float, accepted_at: datetime
    ) -> None:
        labels = (command, status)
        # The web's clock stamped accepted_at; never report a negative latency if it runs ahead.
        end_to_end = max(0.0, (utcnow() - _aware(accepted_at)).total_seconds())
        changes: list[Change] = []
        for spec, value in ((END_TO_END, end_to_end), (EXECUTION, execution_seconds)):
            changes.append((spec.key, _field(labels, _bucket_of(value, spec.buckets)), 1))
            changes.append((spec.key, _field(labels, "sum"), value))
        self._add(changes)

    def count_published(self, batch: list[OutboxEvent], pipe: Pipeline) -> None:
        """Counts these events, with no round trip of its own. At most once per flush
        interval the counts, and whatever else is waiting, ride in the pipeline that
        publishes them (the publisher's `also`); otherwise they wait for the flusher. Riding
        every time put five or six HINCRBYs into every command's publish, half of a pool
        process's Redis commands (docs/benchmarks.md), for numbers a scrape reads per second."""
        by_type: dict[str, int] = defaultdict(int)
        for event in batch:
            by_type[event.type] += 1
        self._add([(PUBLISHED_KEY, _field((kind,), "count"), n) for kind, n in by_type.items()])
        if time.monotonic() - self._last_sent >= self.flush_interval:
            _queue(pipe, self._take())

    def flush(self) -> None:
        """Send what this process has counted so far (the flusher does this every interval)."""
        changes = self._take()
        if not changes:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            _queue(pipe, changes)
            pipe.execute()
        except Exception:
            log.debug("metrics were dropped", exc_info=True)

    def _add(self, changes: list[Change]) -> None:
        with self._lock:
            for key, field, amount in changes:
                self._pending[(key, field)] += amount
        self._ensure_flusher()

    def _take(self) -> list[Change]:
        with self._lock:
            taken, self._pending = self._pending, defaultdict(int)
            self._last_sent = time.monotonic()
        return [(key, field, amount) for (key, field), amount in taken.items()]

    def _ensure_flusher(self) -> None:
        if self._flusher_pid == os.getpid():
            return
        with self._lock:
            if self._flusher_pid == os.getpid():
                return
            self._flusher_pid = os.getpid()
            self._flusher = threading.Thread(
                target=self._flush_forever, name="metrics-flusher", daemon=True
            )
            self._flusher.start()
            atexit.register(self.flush)

    def _flush_forever(self) -> None:
        while True:
            time.sleep(self.flush_interval)
            self.flush()


def celery_queue_keys(queue: str) -> list[str]:
    """The Redis lists kombu keeps for one queue: the plain one plus one per priority step."""
    return [queue] + [f"{queue}\x06\x16{priority}" for priority in (3, 6, 9)]


class OrderwireCollector(Collector):
    """The reading side: builds every orderwire metric at scrape time (see the module doc)."""

    def __init__(
        self,
        engine: Engine,
        client: redis.Redis,
        *,
        queue: str = "celery",
        websocket_connections: Callable[[], int] = lambda: 0,
    ) -> None:
        self.engine = engine
        self.client = client
        self.queue = queue
        self.websocket_connections = websocket_connections

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "orderwire_dependency_up",
            "1 if this scrape could read the dependency, 0 if not (its metrics are then missing).",
            labels=["dependency"],
        )
        sources = (("database", self._from_database), ("redis", self._from_redis))
        for dependency, families in sources:
            try:
                collected = list(families())
            except Exception:
                log.warning("metrics: cannot read the %s", dependency, exc_info=True)
                up.add_metric([dependency], 0)
                continue
            up.add_metric([dependency], 1)
            yield from collected
        yield up
        connections = GaugeMetricFamily(
            "orderwire_websocket_connections", "Live websockets open on this web process."
        )
        connections.add_metric([], self.websocket_connections())
        yield connections

    def _from_database(self) -> Iterator[Metric]:
        with self.engine.connect() as connection:
            unfinished = stats.unfinished_commands(connection)
            backlog = stats.outbox_backlog(connection)
        waiting = GaugeMetricFamily(
            "orderwire_commands_unfinished",
            "Commands not finished yet, by command and status: accepted (not yet picked up by "
            "a worker) or running.",
            labels=["command", "status"],
        )
        # Every command type always, so a series reads 0 rather than vanishing when idle.
        for command in sorted({*COMMAND_TYPES, *(command for command, _ in unfinished)}):
            for status in UNFINISHED:
                waiting.add_metric([command, str(status)], unfinished.get((command, status), 0))
        yield waiting
        yield GaugeMetricFamily(
            "orderwire_outbox_backlog",
            "Events committed but not yet published to Redis (the relay's work).",
            value=backlog.events,
        )
        age = (utcnow() - backlog.oldest).total_seconds() if backlog.oldest else 0.0
        yield GaugeMetricFamily(
            "orderwire_outbox_oldest_unpublished_seconds",
            "Age of the oldest unpublished event; 0 when the outbox is empty.",
            value=max(0.0, age),
        )

    def _from_redis(self) -> Iterator[Metric]:
        pipe = self.client.pipeline(transaction=False)
        for key in celery_queue_keys(self.queue):
            pipe.llen(key)
        pipe.hlen("unacked")  # kombu's hash of messages delivered to a worker, not yet acked
        for key in (ACCEPTED_KEY, END_TO_END.key, EXECUTION.key, PUBLISHED_KEY):
            pipe.hgetall(key)
        *lengths, unacked, accepted, end_to_end, execution, published = pipe.execute()
        yield GaugeMetricFamily(
            "orderwire_queue_depth",
            "Tasks waiting in the Celery queue for a worker (commands and subscriber deliveries).",
            value=sum(lengths),
        )
        yield GaugeMetricFamily(
            "orderwire_queue_unacked",
            "Tasks a worker has taken but not yet acknowledged (running or about to run).",
            value=unacked,
        )
        yield from _worker_consumption(self.client)
        yield _counter(
            "orderwire_commands_accepted",
            "Commands accepted (stored, answered 202), by command.",
            ["command"],
            accepted,
        )
        histograms = [_histogram(END_TO_END, end_to_end), _histogram(EXECUTION, execution)]
        yield _finished(histograms[0])
        yield from histograms
        yield _counter(
            "orderwire_events_published",
            "Domain events published to Redis (pub/sub and session streams), by type; counted in "
            "the publishing round trip itself, so an event the relay publishes again counts again.",
            ["type"],
            published,
        )


def _worker_consumption(client: redis.Redis) -> Iterator[Metric]:
    consuming = worker_liveness.consuming_workers(client)
    yield GaugeMetricFamily(
        "orderwire_workers_consuming",
        "Celery workers whose consumer took a message from the broker within the last "
        f"{worker_liveness.PROBES_PER_WINDOW} probe intervals (each worker sends itself a "
        "probe every ORDERWIRE_WORKER_PROBE_SECONDS).",
        value=len(consuming),
    )
    since = GaugeMetricFamily(
        "orderwire_worker_seconds_since_consumed",
        "Seconds since each consuming worker's consumer last took a message from the broker; "
        "a worker missing here has consumed nothing within the window.",
        labels=["node"],
    )
    for seen in consuming:
        since.add_metric([seen.node], seen.seconds_since_consumed)
    yield since


def _parse(stored: dict[bytes, bytes]) -> Iterator[tuple[tuple[str, ...], str, float]]:
    for field, value in stored.items():
        *labels, part = json.loads(field)
        yield tuple(labels), part, float(value)


def _counter(
    name: str, documentation: str, labels: list[str], stored: dict[bytes, bytes]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for label_values, _, value in sorted(_parse(stored)):
        family.add_metric(list(label_values), value)
    return family


def _histogram(spec: HistogramSpec, stored: dict[bytes, bytes]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(spec.name, spec.documentation, labels=list(spec.labels))
    series: dict[tuple[str, ...], dict[str, float]] = defaultdict(dict)
    for labels, part, value in _parse(stored):
        series[labels][part] = value
    for labels, parts in sorted(series.items()):
        cumulative, buckets = 0.0, []
        for bound in spec.buckets:
            cumulative += parts.get(floatToGoString(bound), 0.0)
            buckets.append((floatToGoString(bound), cumulative))
        # +Inf is every observation, including any under bounds an older version used.
        total = sum(value for part, value in parts.items() if part != "sum")
        buckets.append(("+Inf", total))
        family.add_metric(list(labels), buckets, parts.get("sum", 0.0))
    return family


def _finished(end_to_end: HistogramMetricFamily) -> CounterMetricFamily:
    """Commands finished, by final status: the end-to-end histogram's counts, which are
    observed exactly once per command, by the delivery that finished it."""
    family = CounterMetricFamily(
        "orderwire_commands_finished",
        "Commands that reached a final status (succeeded, rejected, failed), by command.",
        labels=["command", "status"],
    )
    for sample in end_to_end.samples:
        if sample.name.endswith("_count"):
            family.add_metric([sample.labels["command"], sample.labels["status"]], sample.value)
    return family
