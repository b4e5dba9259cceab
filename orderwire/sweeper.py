"""The sweeper: re-enqueues commands that were accepted but seem to have been dropped.

A command can be recorded and never reach a worker: enqueueing failed after the
commit, Redis restarted without persistence, a worker died with the message. Any
command still `accepted` after `accepted_after`, or `running` after `running_after`
(longer than a task may live), is sent to Celery again under the same task id.
That is safe because execution is idempotent: a duplicate finds the command done.

A command's `running` status commits only with its outcome (one write transaction per
attempt), so an `accepted` row may be an attempt in progress: the attempt counter says
when its latest attempt started, and a command attempted within `running_after` is left
alone, as a `running` one was.
"""

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine

from orderwire.db import command_log
from orderwire.db.clock import database_time
from orderwire.db.engine import is_postgres

log = logging.getLogger("orderwire.sweeper")

Enqueue = Callable[[str, str, str], None]  # (command name, request id, command id)
# (command ids, a Unix time) -> those with an attempt started (or its lease renewed) after it
AttemptedSince = Callable[[list[str], float], set[str]]


def _nothing_attempted(_command_ids: list[str], _since: float) -> set[str]:
    return set()


class CommandSweeper:
    def __init__(
        self,
        engine: Engine,
        enqueue: Enqueue,
        *,
        accepted_after: timedelta,
        running_after: timedelta,
        attempted_since: AttemptedSince = _nothing_attempted,
        batch_size: int = 200,
    ) -> None:
        self.engine = engine
        self.enqueue = enqueue
        self.accepted_after = accepted_after
        self.running_after = running_after
        self.attempted_since = attempted_since
        self.batch_size = batch_size

    def sweep(self) -> int:
        """Re-enqueue one batch of stale commands; returns how many.

        The batch is claimed (touched) and committed first, so the database lock is not
        held while enqueueing, and a second sweeper does not take the same batch.
        If an enqueue fails, that command simply waits for the next sweep after this one.
        """
        with self.engine.connect() as connection, connection.begin():
            now = database_time(connection)  # the clock every touched_at was written with
            stale = command_log.stale(
                connection,
                accepted_before=now - self.accepted_after,
                running_before=now - self.running_after,
                limit=self.batch_size,
                skip_locked=is_postgres(self.engine),
            )
            try:
                # Asked before the claim, so that a command a live worker still holds keeps
                # its old touched_at and is taken at once when that worker dies. (The same
                # short-timeout client the workers count with: a hanging Redis holds these
                # rows for at most its timeout.)
                live = self.attempted_since(
                    [command_id for command_id, _, _ in stale],
                    time.time() - self.running_after.total_seconds(),
                )
            except Exception:  # cannot tell: a copy is harmless (it waits on the row lock)
                log.warning("cannot read attempt start times", exc_info=True)
                live = set()
            stale = [found for found in stale if found[0] not in live]
            command_log.touch(connection, [command_id for command_id, _, _ in stale])
        requeued = 0
        for command_id, request_id, command in stale:
            try:
                self.enqueue(command, request_id, command_id)
            except Exception:
                log.warning("re-enqueue failed", exc_info=True, extra={"request_id": request_id})
                break
            requeued += 1
            log.info(
                "re-enqueued a stale command",
                extra={"event": "command.requeued", "request_id": request_id},
            )
        return requeued
