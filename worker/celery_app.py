"""The Celery app the worker and Flower load (`--app worker.celery_app`).

Building the Celery object reads settings but connects to nothing; each worker
child bootstraps its own engine and clients on its first task (worker/runtime.py).
"""

import signal

from celery.app import trace
from celery.signals import celeryd_init, setup_logging, worker_process_init, worker_shutting_down

from orderwire.config import ConfigError, Settings
from orderwire.logs import configure_logging
from orderwire.redis_clients import redis_client
from orderwire.task_queue import create_celery
from worker import runtime
from worker.liveness import ConsumptionProbe
from worker.node_names import NodeNameClaim
from worker.tasks import register_tasks

try:
    settings = Settings.from_env()
except ConfigError as error:
    raise SystemExit(f"orderwire: configuration error: {error}") from None
app = create_celery(settings)
register_tasks(app, runtime.current)
# The consumer reconnects within a second of Redis answering again (worker/consumer.py)
# and proves that it consumes (worker/liveness.py) by probes recorded in orderwire's Redis.
app.conf.worker_consumer = "worker.consumer:QuickReconnectConsumer"
app.steps["consumer"].add(ConsumptionProbe)


@setup_logging.connect
def _json_logs(**_kwargs: object) -> None:
    configure_logging(settings.log_level, process="worker")


@celeryd_init.connect
def _unique_node_name(instance: object, **_kwargs: object) -> None:
    # Sent before the worker sets up its mailbox, events and queues: each uses the name
    # chosen here (worker/node_names.py).
    claim = NodeNameClaim(redis_client(settings, socket_timeout=2))
    # `instance` is the WorkController, which the signal's stubs type as a plain object.
    instance.hostname = claim.claim(instance.hostname)  # type: ignore[attr-defined]
    trace.setup_worker_optimizations(instance.app, instance.hostname)  # type: ignore[attr-defined]
    claim.keep_renewing()


@worker_process_init.connect
def _leave_sigterm_to_the_main_process(**_kwargs: object) -> None:
    # The launcher, `kill -- -PGID` and the tests signal the whole process group. Celery resets
    # SIGTERM in its pool children to "die at once", which would cut the running command
    # short; the main process's warm shutdown is what lets it finish. Children still die
    # with the main process (Celery sets PDEATHSIG) and on a hard time limit (SIGKILL).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@worker_shutting_down.connect
def _say_goodbye(sig: str, how: str, exitcode: int, **_kwargs: object) -> None:
    # A warm shutdown (SIGTERM) lets running commands finish; unacknowledged ones are
    # redelivered (acks_late), so nothing is lost either way.
    import logging

    logging.getLogger("orderwire.worker").info(
        "worker shutting down (%s, %s)", sig, how, extra={"event": "worker.shutdown"}
    )
