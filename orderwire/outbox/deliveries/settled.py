"""Which events after a position a subscriber may pass: the commit-safe prefix.

A subscriber's position is a `seq`, and `seq` is taken when the row is inserted, before
commit: a transaction that took seq 41 may commit after one that took 42. A subscriber
that passed 42 as soon as it was visible would never see 41. The relay does not have this
problem because it looks for `published_at IS NULL` rather than "after seq N"; a position
cannot do that, so it passes only what is *settled*:

- SQLite: every writing transaction begins with BEGIN IMMEDIATE, so there is one writer
  and seq order is commit order. A seq missing below a visible one was rolled back (or
  pruned) and never comes: every visible event is settled.
- PostgreSQL: consecutive seqs are settled. A missing seq (a gap) is a transaction still
  open that may yet commit, or one rolled back (a sequence never gives a number back). The
  gap's seq was taken before the next visible event was inserted, and that insert's time is
  that event's `occurred_at` (`statement_timestamp()`, orderwire/db/clock.py). No command
  transaction stays open longer than the Celery task that runs it (killed after
  `task_time_limit`; a killed connection never commits). So once the event after a gap
  was inserted more than `gap_settle` (longer than that) ago, the gap is permanent and the
  subscriber passes it. Until then it waits there, and so never skips a late commit.

Why not "only events already marked published": marks prove a commit, but a gap below a
published event may still be an open transaction, so the gap rule is needed anyway, and
delivering without waiting for Redis keeps subscribers going while Redis is down.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Stored(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def occurred_at(self) -> datetime: ...


def settled_prefix(
    rows: Sequence[Stored],
    *,
    after: int,
    now: datetime,
    gap_settle: timedelta | None,
) -> int:
    """How many of `rows` (the events after position `after`, in seq order) are settled.

    `gap_settle` None means there are no late commits (SQLite): all are."""
    if gap_settle is None:
        return len(rows)
    expected = after + 1
    for index, row in enumerate(rows):
        # A first position of 0 with events pruned below is a gap like any other: the
        # oldest remaining event is old, so it settles at once.
        if row.seq != expected and _aware(row.occurred_at) > now - gap_settle:
            return index
        expected = row.seq + 1
    return len(rows)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; orderwire only ever stores UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
