"""Reading the durable feed as one consumer of a consumer group.

    for event in consume("billing", types={"OrderPaid"}):
        book_payment(event)          # returns: acked; raises: delivered again later

Each group gets every event at least once and resumes where it stopped; the
processes of one group share the work. The kit adds what every service would
otherwise write itself:

- **ack on success**: an event is acknowledged (XACK) when the loop asks for the
  next one, that is once the body handled it without raising;
- **retry**: a body that raises ends the loop with its event unacknowledged. It
  is delivered again: to this consumer when `consume` is entered again (its own
  pending entries come first), or to another one of the group once it has been
  idle for `claim_idle` seconds (XAUTOCLAIM: a consumer that died mid-batch
  loses nothing);
- **parking**: an event delivered more than `max_deliveries` times (an event that
  waited behind a failing one counts one delivery more) is not handed to the body
  again but moved to the group's parked stream
  (`orderwire:feed:<group>:parked`), so one poisonous event cannot stop a group;
- **dedup by event id**: the ids a group handled are kept (with the ack, in one
  MULTI) for `dedup_window`, so an event appended twice (a feed rebuild) or
  redelivered after its ack reached Redis is not handed to the body again.

What stays the service's own: an event whose handler succeeded but whose ack
never reached Redis (a crash between the two) comes again; a handler writing to
its own database makes that idempotent by recording the event id with its effect.
"""

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Collection, Generator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import redis

from orderwire.feed.names import FEED_STREAM, handled_key, parked_key
from orderwire.redis_outage import RedisOutage
from orderwire.redis_replies import group_reply, stream_entries

log = logging.getLogger("orderwire.feed")

Entry = tuple[bytes, dict[bytes, bytes] | None]  # (stream id, fields); fields None: trimmed
T = TypeVar("T")

AUTOCLAIM_JUSTID = """
return redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4],
                  'COUNT', ARGV[5], 'JUSTID')
"""


@dataclass(frozen=True)
class Delivery:
    stream_id: bytes
    envelope: dict[str, Any] | None  # None: the entry was trimmed away or is not an envelope
    deliveries: int  # this one included
    handled_before: bool  # the group's dedup set has its event id


def default_consumer_name() -> str:
    """Unique per process: a restarted process is a new consumer, and its predecessor's
    pending entries are claimed after `claim_idle`. Pass a fixed name to take them over
    at once (as `orderwire tail --consumer` does)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def ensure_group(client: redis.Redis, group: str, *, start: str = "0") -> bool:
    """Create the group if missing, reading from the feed's start ("0") or only what comes
    next ("$"). True if it was created; an existing group keeps its position."""
    try:
        client.xgroup_create(FEED_STREAM, group, id=start, mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise
        return False
    return True


@dataclass
class FeedConsumer:
    """One consumer of one group. `events()` is the loop; the rest is its machinery."""

    client: redis.Redis
    group: str
    consumer: str = field(default_factory=default_consumer_name)
    types: Collection[str] | None = None
    start: str = "0"
    batch: int = 100
    block: timedelta = timedelta(seconds=1)
    claim_idle: timedelta = timedelta(seconds=60)
    max_deliveries: int = 5
    dedup_window: timedelta = timedelta(hours=48)
    reconnect_delay: float = 0.5  # doubled after each failure, up to 10 s

    def __post_init__(self) -> None:
        if not self.group or any(c.isspace() for c in self.group):
            raise ValueError(f"a group is a name without spaces, got {self.group!r}")
        if self.max_deliveries < 2:
            raise ValueError("max_deliveries must be at least 2")
        self._own_pending_first = True  # on entry: whatever this consumer left unacked
        self._next_claim = 0.0
        self._claim_cursor = "0-0"
        self._current: Delivery | None = None  # handed out, not yet acknowledged
        self._autoclaim = self.client.register_script(AUTOCLAIM_JUSTID)
        self._outage = RedisOutage(f"feed consumer {self.consumer} of {self.group}", log)

    def events(self) -> Generator[dict[str, Any], None, None]:
        """Every event for this consumer, as its envelope (a dict), until the caller stops
        (stops reading, or closes the generator).
        Redis going away pauses the loop (logged, retried with backoff); it never ends it."""
        self._own_pending_first = True
        self._current = None
        group_ready = False
        while True:
            if not group_ready:
                self._patiently(ensure_group, self.client, self.group, start=self.start)
                group_ready = True
            yield from self._deliver(self._patiently(self._next_batch))

    def _patiently(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one Redis call, waiting out a Redis that is away (never giving up: the work is
        still there when it comes back). Own pending entries are read first afterwards."""
        delay = self.reconnect_delay
        while True:
            try:
                answer = call(*args, **kwargs)
            except (redis.ConnectionError, redis.TimeoutError) as error:
                self._outage.lost(error)
                log.debug("feed: Redis unreachable (%s); retrying in %.1fs", error, delay)
                self._own_pending_first = True
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
            except redis.ResponseError as error:
                if "NOGROUP" not in str(error):
                    raise
                # Redis lost the group (and likely the feed): start over from whatever the
                # feed holds now, a rebuild included; dedup drops what was handled before.
                log.warning("feed: group %s is gone from Redis; creating it again", self.group)
                self._own_pending_first = True
                ensure_group(self.client, self.group, start="0")
            else:
                self._outage.answered()
                return answer

    # --- reading ---------------------------------------------------------------------

    def _next_entries(self) -> list[tuple[Entry, int]]:
        """Own pending entries first, then entries claimed from idle consumers, then new ones;
        each with how many times it has been delivered."""
        if self._own_pending_first:
            # One at a time: every read counts a delivery, and entries queued behind one that
            # keeps failing must not use up their own deliveries waiting.
            pending = self._read("0", count=1)
            if pending:
                return self._with_deliveries(pending)
            self._own_pending_first = False
        if time.monotonic() >= self._next_claim and self._claim():
            self._own_pending_first = True  # the claimed ids are now this consumer's pending
            return self._next_entries()
        block_ms = max(1, int(self.block.total_seconds() * 1000))
        return [(entry, 1) for entry in self._read(">", block=block_ms)]

    def _read(self, position: str, block: int | None = None, count: int = 0) -> list[Entry]:
        reply = self.client.xreadgroup(
            self.group,
            self.consumer,
            {FEED_STREAM: position},
            count=count or self.batch,
            block=block,
        )
        return [
            (stream_id, fields or None)
            for _, rows in group_reply(reply)
            for stream_id, fields in rows
        ]

    def _claim(self) -> bool:
        """XAUTOCLAIM (JUSTID, so the claim itself counts no delivery) entries idle longer
        than `claim_idle`: a dead consumer's pending work. True if any were taken."""
        self._next_claim = time.monotonic() + min(self.claim_idle.total_seconds(), 10.0)
        idle_ms = int(self.claim_idle.total_seconds() * 1000)
        # Through a script: redis-py's XAUTOCLAIM JUSTID reply drops the cursor.
        reply = self._autoclaim(
            keys=[FEED_STREAM],
            args=[self.group, self.consumer, idle_ms, self._claim_cursor, self.batch],
        )
        cursor, claimed = reply[0], reply[1]
        self._claim_cursor = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
        if claimed:
            log.info(
                "feed: %s claimed %d idle entries of group %s",
                self.consumer,
                len(claimed),
                self.group,
            )
        return bool(claimed)

    def _with_deliveries(self, entries: list[Entry]) -> list[tuple[Entry, int]]:
        first, last = entries[0][0], entries[-1][0]
        details = self.client.xpending_range(
            FEED_STREAM,
            self.group,
            min=first,
            max=last,
            count=len(entries),
            consumername=self.consumer,
        )
        counts = {item["message_id"]: int(item["times_delivered"]) for item in details}
        return [(entry, counts.get(entry[0], 1)) for entry in entries]

    # --- handing over ----------------------------------------------------------------

    def _next_batch(self) -> list[Delivery]:
        entries = self._next_entries()
        envelopes = [_parse(fields) for (_, fields), _ in entries]
        already = self._already_handled([envelope["id"] for envelope in envelopes if envelope])
        return [
            Delivery(
                stream_id, envelope, deliveries, envelope is not None and envelope["id"] in already
            )
            for ((stream_id, _), deliveries), envelope in zip(entries, envelopes, strict=True)
        ]

    def _deliver(self, batch: list[Delivery]) -> Iterator[dict[str, Any]]:
        handled_now: set[str] = set()
        skipped: list[bytes] = []  # acknowledged together, not one round trip each
        for item in batch:
            envelope = item.envelope
            if envelope is None:
                log.error(
                    "feed: entry %s of group %s was trimmed or unreadable before it was "
                    "handled; acknowledged without handling",
                    item.stream_id,
                    self.group,
                )
                skipped.append(item.stream_id)
            elif (
                item.handled_before
                or envelope["id"] in handled_now
                or (self.types and envelope["type"] not in self.types)
            ):
                skipped.append(item.stream_id)
            elif item.deliveries > self.max_deliveries:
                self._patiently(self._park, item)
            else:
                self._acknowledge_skipped(skipped)
                self._current = item
                yield envelope
                # Reached only when the loop body returned: the event is handled.
                self.ack_current()
                handled_now.add(envelope["id"])
        self._acknowledge_skipped(skipped)

    def _acknowledge_skipped(self, skipped: list[bytes]) -> None:
        if skipped:
            self._patiently(self.client.xack, FEED_STREAM, self.group, *skipped)
            skipped.clear()

    def ack_current(self) -> None:
        """Acknowledge the event last handed out, now rather than when the loop asks for the
        next one: for a loop that stops (`break`) after handling it. Idempotent."""
        item, self._current = self._current, None
        if item is not None and item.envelope is not None:
            self._patiently(self._acknowledge, item.stream_id, item.envelope["id"])

    def _already_handled(self, event_ids: list[str]) -> set[str]:
        if not event_ids:
            return set()
        scores = self.client.zmscore(handled_key(self.group), event_ids)
        return {event_id for event_id, score in zip(event_ids, scores, strict=True) if score}

    def _acknowledge(self, stream_id: bytes, event_id: str) -> None:
        now_ms = int(time.time() * 1000)
        forget_before = now_ms - int(self.dedup_window.total_seconds() * 1000)
        pipe = self.client.pipeline(transaction=True)
        pipe.zadd(handled_key(self.group), {event_id: now_ms})
        pipe.zremrangebyscore(handled_key(self.group), "-inf", f"({forget_before}")
        pipe.xack(FEED_STREAM, self.group, stream_id)
        pipe.execute()

    def _park(self, item: "Delivery") -> None:
        stream_id, envelope, deliveries = item.stream_id, item.envelope or {}, item.deliveries
        log.error(
            "feed: event %s (%s) failed %d deliveries in group %s; parked in %s",
            envelope["id"],
            envelope["type"],
            deliveries - 1,
            self.group,
            parked_key(self.group),
        )
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(
            parked_key(self.group),
            {
                "envelope": json.dumps(envelope, separators=(",", ":"), ensure_ascii=False),
                "feed_id": stream_id,
                "deliveries": deliveries - 1,
                "consumer": self.consumer,
            },
        )
        pipe.xack(FEED_STREAM, self.group, stream_id)
        pipe.execute()


def _parse(fields: dict[bytes, bytes] | None) -> dict[str, Any] | None:
    if not fields or b"envelope" not in fields:
        return None
    try:
        envelope = json.loads(fields[b"envelope"])
    except ValueError:
        return None
    is_envelope = isinstance(envelope, dict) and "id" in envelope and "type" in envelope
    return envelope if is_envelope else None


def consume(
    group: str,
    types: Collection[str] | None = None,
    *,
    client: redis.Redis | None = None,
    redis_url: str | None = None,
    **options: Any,
) -> Iterator[dict[str, Any]]:
    """Iterate over the feed as a consumer of `group` (created from the feed's start if
    missing), optionally only events whose `type` is in `types`. Redis is `client`, else
    `redis_url`, else REDIS_URL. Options are FeedConsumer's (consumer, start, batch,
    claim_idle, max_deliveries, dedup_window, ...)."""
    if client is None:
        url = redis_url or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
        # A Redis that hangs fails a call after 10 s (then retried), rather than never;
        # keep `block` well under it.
        client = redis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=10, health_check_interval=30
        )
    return FeedConsumer(client, group, types=set(types) if types else None, **options).events()


def parked(client: redis.Redis, group: str, count: int = 100) -> list[dict[str, Any]]:
    """The oldest `count` events parked for `group`: envelope, feed id and deliveries."""
    return [
        {
            "parked_id": stream_id.decode(),
            "envelope": json.loads(fields[b"envelope"]),
            "feed_id": fields[b"feed_id"].decode(),
            "deliveries": int(fields[b"deliveries"]),
        }
        for stream_id, fields in stream_entries(client.xrange(parked_key(group), count=count))
    ]
