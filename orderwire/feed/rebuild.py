"""`orderwire feed rebuild --since TIME`: the outbox is the source of truth for the feed.

A Redis that lost the feed (restarted without persistence, failed over to a
replica that was behind, flushed) is given it back: every event published since
TIME is appended again, in `seq` order, which per order is commit order. An
event whose feed entry is still there (its marker names an entry the stream
still holds) is skipped, so a rebuild over a feed that lost nothing appends
nothing; whatever is appended twice anyway (the entry had been trimmed), the
consumers' dedup by event id drops.

While the rebuild runs, live events keep being appended; a consumer may then see
an order's newest event before the rebuilt older ones. Stop the consumers, or
rely on their dedup and read order state from the query endpoints, if that matters.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import Engine, select

from orderwire.db.tables import events
from orderwire.feed.names import FEED_MARKER_FIELD, FEED_STREAM
from orderwire.outbox.keys import POSITION_PREFIX

MARKER_TTL = 25 * 3600  # as the publisher's per-event markers
PAGE = 500

REAPPEND_SCRIPT = """
local marker = KEYS[1] .. ARGV[1]
local position = redis.call('HGET', marker, ARGV[2])
if position and #redis.call('XRANGE', KEYS[2], position, position) > 0 then return 0 end
position = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'envelope', ARGV[3])
redis.call('HSET', marker, ARGV[2], position)
redis.call('EXPIRE', marker, ARGV[5])
return 1
"""

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (UTC unless it says otherwise: `2026-11-30T06:00:00Z`,
    `2026-11-30`) or a duration back from now (`90m`, `2h`, `3d`). ValueError otherwise."""
    now = now or datetime.now(UTC)
    text = text.strip()
    duration = _DURATION.match(text)
    if duration:
        return now - timedelta(**{_UNITS[duration.group(2)]: int(duration.group(1))})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--since must be an ISO 8601 time like 2026-11-30T06:00:00Z or a duration like "
            f"2h (s, m, h, d), got {text!r}"
        ) from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment > now:
        raise ValueError(f"--since is in the future: {text!r}")
    return moment


@dataclass(frozen=True)
class RebuildResult:
    appended: int
    already_there: int


def rebuild_feed(
    engine: Engine, client: redis.Redis, since: datetime, *, maxlen: int
) -> RebuildResult:
    """Re-append every event published since `since` that the feed no longer holds."""
    script = client.register_script(REAPPEND_SCRIPT)
    appended = already = 0
    last_seq = 0
    while True:
        # occurred_at is stamped before commit, so seq order and occurred_at order may differ
        # by a moment; `since` is a recovery point, to be chosen with some margin anyway.
        query = (
            select(events.c.seq, events.c.event_id, events.c.envelope)
            .where(
                events.c.seq > last_seq,
                events.c.occurred_at >= since.astimezone(UTC),
                events.c.published_at.is_not(None),
            )
            .order_by(events.c.seq)
            .limit(PAGE)
        )
        with engine.connect() as connection:
            rows = connection.execute(query).all()
        if not rows:
            return RebuildResult(appended, already)
        last_seq = rows[-1].seq
        pipe = client.pipeline(transaction=False)
        for row in rows:
            script(
                keys=[POSITION_PREFIX, FEED_STREAM],
                args=[row.event_id, FEED_MARKER_FIELD, row.envelope, maxlen, MARKER_TTL],
                client=pipe,
            )
        results = pipe.execute()
        appended += sum(results)
        already += len(results) - sum(results)

