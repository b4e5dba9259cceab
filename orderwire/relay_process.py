"""The `relay` process: publishes the outbox backlog and sweeps stale commands, in a loop.

Both jobs keep a promise when something else broke (Redis was down at commit, a
message was lost), so they run apart from the web and the workers, and stop
cleanly on SIGTERM or Ctrl-C between two rounds.
"""

import logging
import signal
import threading
import time

from orderwire.bootstrap import Orderwire

log = logging.getLogger("orderwire.relay")


def run_relay(
    services: Orderwire,
    *,
    stop: threading.Event | None = None,
    interval: float = 0.2,
    sweep_every: float = 5.0,
) -> None:
    stop = stop or _stop_on_signals()
    next_sweep = 0.0
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
        if time.monotonic() >= next_sweep:
            try:
                services.sweeper.sweep()
            except Exception:
                log.warning("sweep failed; retrying", exc_info=True)
            next_sweep = time.monotonic() + sweep_every
        if published < services.relay.batch_size:
            stop.wait(backoff)
    log.info("relay stopped", extra={"event": "relay.stopped"})


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop
