"""The `relay` process: publishes the outbox backlog and runs the periodic jobs, in a loop:
after-commit subscriber delivery (orderwire/outbox/deliveries/), the command sweeper,
retention (orderwire/db/retention.py) and, every 30 s, the durable feed's watch
(orderwire/feed/groups.py).

Each job keeps a promise when something else broke (Redis was down at commit, a
message was lost), so they run apart from the web and the workers, and stop
cleanly on SIGTERM or Ctrl-C between two rounds.
"""

import logging
import signal
import threading
import time
from collections.abc import Callable

from orderwire.bootstrap import Orderwire
from orderwire.feed.groups import FeedWatch
from orderwire.redis_outage import RedisOutage

log = logging.getLogger("orderwire.relay")


class Every:
    """A job run at most once per `seconds`; its failures are logged, never raised."""

    def __init__(self, seconds: float, job: Callable[[], object], name: str) -> None:
        self.seconds, self.job, self.name = seconds, job, name
        self.due = 0.0

    def run_if_due(self) -> None:
        if time.monotonic() < self.due:
            return
        try:
            self.job()
        except Exception:
            log.warning("%s failed; retrying", self.name, exc_info=True)
        self.due = time.monotonic() + self.seconds


def run_relay(
    services: Orderwire,
    *,
    stop: threading.Event | None = None,
    interval: float = 0.2,
    sweep_every: float = 5.0,
    deliver_every: float = 0.2,
    feed_watch_every: float = 30.0,
    retention_every: float = 60.0,
) -> None:
    stop = stop or _stop_on_signals()
    periodic = [
        Every(sweep_every, services.sweeper.sweep, "command sweep"),
        Every(1.0, _redis_check(services), "Redis check"),
    ]
    if services.deliveries is not None:
        # Needs only the database: subscribers keep going while Redis is away.
        periodic.append(Every(deliver_every, services.deliveries.deliver, "subscriber delivery"))
    feed_watch = FeedWatch(services.redis, services.settings.feed_maxlen)
    periodic.append(Every(feed_watch_every, feed_watch.check, "feed watch"))
    if services.retention is not None:
        periodic.append(Every(retention_every, services.retention.prune, "retention"))
    backoff = interval
    log.info("relay started", extra={"event": "relay.started"})
    while not stop.is_set():
        published = 0
        try:
            published = services.relay.publish_backlog()
            backoff = interval
        except Exception:
            log.warning("relay round failed; retrying", exc_info=True)
            backoff = min(backoff * 2, 5.0)
        for job in periodic:
            job.run_if_due()
        if published < services.relay.batch_size:
            stop.wait(backoff)
    log.info("relay stopped", extra={"event": "relay.stopped"})


def _redis_check(services: Orderwire) -> Callable[[], None]:
    """A PING a second, so the relay says when it lost Redis and when it has it back even
    while it has nothing to publish."""
    outage = RedisOutage("relay", log)

    def check() -> None:
        try:
            services.redis.ping()
        except Exception as error:
            outage.lost(error)
            return
        outage.answered()

    return check


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def request_stop(*_: object) -> None:
        # Not stop.set() right here: the handler runs in the main thread, possibly while that
        # thread holds the Event's own (non-reentrant) lock inside stop.wait(), and set()
        # would then wait for it forever: a relay in a test ignored SIGTERM that way (gdb:
        # the signal handler, in Event.set, waiting on that lock with no timeout).
        threading.Thread(target=stop.set, name="stop-relay", daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, request_stop)
    return stop
