"""Lease behaviour: a worker keeps the commands it is running visibly alive.

A command is `running` from its first attempt until its final status. If the worker
that holds it dies (its host lost power, the process was killed), nothing finishes
it: the sweeper re-enqueues a running command whose `touched_at` is older than
ORDERWIRE_SWEEP_RUNNING_AFTER (20 s). A worker that is alive renews `touched_at` of
every command it holds every ORDERWIRE_LEASE_RENEW_SECONDS (5 s), from a thread of
its own, so a long command, or one waiting between retries, is never taken for dead.
A dead worker's commands are then re-enqueued within running_after plus one sweep
(5 s): well under 30 s instead of the 3 minutes a fixed timeout needed.

A command's `running` status now commits only with its outcome (one write transaction
per attempt, orderwire/pipeline/attempts.py), and while its transaction is open the row
is locked: so the lease lives where the attempt counter keeps the attempt's start time
(`renew_attempts`, in Redis), which the sweeper and `GET /api/commands/<id>` read. Only
when Redis cannot be reached is the lease renewed in the log instead, for a command whose
`running` status was committed (its attempt counted in the log, the counter being
unreachable too).

Taking a command from a worker that is only slow (a long pause, cut off from the
database) is safe: the transaction behaviour still re-checks the status under a lock
in the transaction that applies the effect, so at most one execution commits.
"""

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from orderwire.db import command_log
from orderwire.pipeline.execution import Execution, Outcome, Step

log = logging.getLogger("orderwire.pipeline")


class HoldLease:
    def __init__(
        self,
        engine: Engine,
        *,
        renew_every: float,
        renew_attempts: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.renew_every = renew_every
        self.renew_attempts = renew_attempts  # (command ids) -> None: attempt counter's lease
        self._held: dict[str, int] = {}  # command id -> executions holding it in this process
        self._lock = threading.Lock()
        self._renewer: threading.Thread | None = None

    def __call__(self, execution: Execution, next_step: Step) -> Outcome:
        self._hold(execution.command_id)
        try:
            return next_step(execution)
        finally:
            self._release(execution.command_id)

    @property
    def held(self) -> list[str]:
        with self._lock:
            return list(self._held)

    def renew(self) -> None:
        """Touch every command held here (one Redis round trip, or one UPDATE, for all)."""
        held = self.held
        if not held:
            return
        if self.renew_attempts is not None:
            try:
                self.renew_attempts(held)
                # Renewed where the sweeper looks first (it leaves alone any command, running
                # or not, whose attempt is under way there); no database write, which on
                # SQLite would wait behind the command's own transaction.
                return
            except Exception:
                log.warning("lease renewal in the attempt counter failed", exc_info=True)
        with self.engine.connect() as connection, connection.begin():
            command_log.renew_leases(connection, held)

    def _hold(self, command_id: str) -> None:
        with self._lock:
            self._held[command_id] = self._held.get(command_id, 0) + 1
            if self._renewer is None:
                # Started on first use, i.e. in the process that runs commands (after
                # Celery forked it), never at import or bootstrap time.
                self._renewer = threading.Thread(
                    target=self._renew_forever, name="lease-renewer", daemon=True
                )
                self._renewer.start()

    def _release(self, command_id: str) -> None:
        with self._lock:
            remaining = self._held.get(command_id, 0) - 1
            if remaining > 0:
                self._held[command_id] = remaining
            else:
                self._held.pop(command_id, None)

    def _renew_forever(self) -> None:
        stop = threading.Event()  # never set: the thread lives as long as the process
        while not stop.wait(self.renew_every):
            try:
                self.renew()
            except Exception:
                # The database is away: the next renewal tries again. If it stays away for
                # longer than the lease, the command is re-enqueued, which is safe.
                log.warning("lease renewal failed", exc_info=True)
