"""The sweeper: re-enqueues commands that were accepted but seem to have been dropped.

A command can be recorded and never reach a worker: enqueueing failed after the
commit, Redis restarted without persistence, a worker died with the message. Any
command still `accepted` after `accepted_after`, or `running` after `running_after`
(longer than a task may live), is sent to Celery again under the same task id.
That is safe because execution is idempotent: a duplicate finds the command done.
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine

from orderwire.db import command_log
from orderwire.db.clock import database_time
from orderwire.db.engine import is_postgres

log = logging.getLogger("orderwire.sweeper")

Enqueue = Callable[[str, str, str], None]  # (command name, request id, command id)


class CommandSweeper:
    def __init__(
        self,
        engine: Engine,
        enqueue: Enqueue,
        *,
        accepted_after: timedelta,
        running_after: timedelta,
        batch_size: int = 200,
    ) -> None:
        self.engine = engine
        self.enqueue = enqueue
        self.accepted_after = accepted_after
        self.running_after = running_after
        self.batch_size = batch_size

    def sweep(self) -> int:
        """Re-enqueue one batch of stale commands; returns how many.

        The batch is claimed (touched) and committed first, so the database lock is not
        held while talking to Redis, and a second sweeper does not take the same batch.
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
