"""Publishing an event to Redis: one atomic Lua script per event.

For each session in the event's audience the script appends the envelope to that
session's stream (the history a reconnecting page resumes from) unless it is
there already, then PUBLISHes the envelope on `orderwire.events.<type>` (the
contract) and, with the stream positions, on the live channel of each web process
that holds a socket of one of those sessions (their routes), and only there: a web
process never decodes events of sessions it does not serve.

Being one script, "appended to the stream" and "published live" happen together:
a web process that subscribed before reading the stream can never miss an event
between the two. Being keyed by event id, publishing twice appends once.

The same script appends the envelope once per event id to the durable feed
`orderwire:events` (CONTRACT.md section 4; the consumers are in orderwire/feed/).

Per-order order: the script keeps each aggregate's last published version. The fast
path (a worker, right after its commit) publishes with `only_next`: an event goes out
only if it is its aggregate's next version, so it never overtakes an earlier event
still waiting in the outbox (that one, and this, are then the relay's, in commit
order). The script also lists the ids of the events the fast path published, and the
relay marks those published in the outbox in batches, off the command's path.

The script's keys: KEYS[1] the per-event marker prefix, KEYS[2] the session stream
prefix, KEYS[3] the live channel prefix, KEYS[4] the route prefix, KEYS[5] the feed,
KEYS[6] the aggregate's published-version key, KEYS[7] the list of published ids. Its
arguments: event id, channel, envelope, history length, TTL, feed length (ARGV[1..6]),
the audience's sessions from ARGV[7], then the aggregate version and `only_next` last.
"""

import hashlib
from collections.abc import Callable

import redis
from redis.client import Pipeline
from redis.exceptions import NoScriptError

from orderwire.feed.names import FEED_MAXLEN, FEED_STREAM
from orderwire.outbox.envelope import channel_for
from orderwire.outbox.keys import (
    LIVE_CHANNEL_PREFIX,
    POSITION_PREFIX,
    PUBLISHED_IDS,
    PUBLISHED_VERSION_PREFIX,
    ROUTE_PREFIX,
    STREAM_PREFIX,
)
from orderwire.outbox.store import OutboxEvent
from orderwire.redis_replies import byte_strings

REPLICA_WAIT_MS = 1000

PUBLISH_SCRIPT = """
local event_id, channel, envelope = ARGV[1], ARGV[2], ARGV[3]
local maxlen, ttl, feed_maxlen = ARGV[4], tonumber(ARGV[5]), ARGV[6]
local last_session = #ARGV - 2
local version, only_next = tonumber(ARGV[#ARGV - 1]), ARGV[#ARGV] == '1'
local last = tonumber(redis.call('GET', KEYS[6]) or '0')
if only_next and version ~= last + 1 then return 0 end
local marker = KEYS[1] .. event_id
local positions = {}
local any = false
for i = 7, last_session do
  local session = ARGV[i]
  local position = redis.call('HGET', marker, session)
  if not position then
    local stream = KEYS[2] .. session
    position = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
                          'id', event_id, 'envelope', envelope)
    redis.call('EXPIRE', stream, ttl)
    redis.call('HSET', marker, session, position)
  end
  positions[session] = position
  any = true
end
-- The durable feed (orderwire/feed): once per event id, '@feed' being no session id.
if not redis.call('HGET', marker, '@feed') then
  local position = redis.call('XADD', KEYS[5], 'MAXLEN', '~', feed_maxlen, '*',
                              'envelope', envelope)
  redis.call('HSET', marker, '@feed', position)
end
redis.call('EXPIRE', marker, ttl)
redis.call('PUBLISH', channel, envelope)
local hubs = {}
for i = 7, last_session do
  for _, hub in ipairs(redis.call('SMEMBERS', KEYS[4] .. ARGV[i])) do hubs[hub] = true end
end
if next(hubs) then
  local live = '{"positions":' .. cjson.encode(positions) .. ',"envelope":' .. envelope .. '}'
  for hub in pairs(hubs) do redis.call('PUBLISH', KEYS[3] .. hub, live) end
end
if version > last then redis.call('SET', KEYS[6], version, 'EX', ttl) end
-- The fast path's events, for the relay to mark (the relay marks its own itself). Bounded
-- while no relay runs: a trimmed id stays unmarked and is published again later.
if only_next and redis.call('RPUSH', KEYS[7], event_id) > 1000000 then
  redis.call('LTRIM', KEYS[7], -1000000, -1)
end
return 1
"""


class RedisEventPublisher:
    """Publishes outbox events; raises redis errors (the caller then leaves them for the relay)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        history_length: int = 10_000,
        history_ttl: int = 25 * 3600,
        feed_maxlen: int = FEED_MAXLEN,
        replicas: int = 0,
    ) -> None:
        self.client = client
        # Under Sentinel: wait (up to 1 s) for a replica to hold what was just written before
        # the events count as published, so a failover right after keeps them in the
        # history that resuming pages read. No replica in time: published all the same.
        self.replicas = replicas
        self.history_length = history_length
        self.history_ttl = history_ttl
        self.feed_maxlen = feed_maxlen
        self._script_sha = hashlib.sha1(PUBLISH_SCRIPT.encode()).hexdigest()

    def publish(
        self,
        batch: list[OutboxEvent],
        *,
        also: Callable[[Pipeline], None] | None = None,
        only_next: bool = False,
    ) -> list[OutboxEvent]:
        """One round trip for the whole batch, plus whatever `also` adds to the pipeline
        (the metrics counting these events); returns the events that went out (all of them
        unless `only_next` held some back). The script goes by its SHA; only when Redis
        does not know it yet (first use, or a restarted Redis) is it loaded and the batch
        sent again. (redis-py's Script objects instead ask SCRIPT EXISTS on every
        pipeline: a second round trip per batch.)"""
        if not batch:
            return []
        try:
            sent = self._send(batch, also, only_next)
        except NoScriptError:
            # Not a transaction: everything else in the pipeline ran, `also` included.
            self.client.script_load(PUBLISH_SCRIPT)
            sent = self._send(batch, None, only_next)
        return [event for event, went_out in zip(batch, sent, strict=True) if went_out]

    def _send(
        self, batch: list[OutboxEvent], also: Callable[[Pipeline], None] | None, only_next: bool
    ) -> list[int]:
        pipe = self.client.pipeline(transaction=False)
        for event in batch:
            pipe.evalsha(
                self._script_sha,
                7,
                POSITION_PREFIX,
                STREAM_PREFIX,
                LIVE_CHANNEL_PREFIX,
                ROUTE_PREFIX,
                FEED_STREAM,
                PUBLISHED_VERSION_PREFIX + event.aggregate_id,
                PUBLISHED_IDS,
                event.event_id,
                channel_for(event.type),
                event.envelope,
                self.history_length,
                self.history_ttl,
                self.feed_maxlen,
                *event.audience,
                event.aggregate_version,
                "1" if only_next else "0",
            )
        if also is not None:
            also(pipe)
        if self.replicas:
            pipe.execute_command("WAIT", self.replicas, REPLICA_WAIT_MS)
        return pipe.execute()[: len(batch)]

    def take_published_ids(self, limit: int) -> list[str]:
        """Up to `limit` ids of published events, oldest first, still listed after this call:
        `forget_published_ids(n)` drops them once the relay has marked them."""
        listed = byte_strings(self.client.lrange(PUBLISHED_IDS, 0, limit - 1))
        return [raw.decode() for raw in listed]

    def forget_published_ids(self, count: int) -> None:
        self.client.ltrim(PUBLISHED_IDS, count, -1)
