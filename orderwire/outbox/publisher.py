"""Publishing an event to Redis: one atomic Lua script per event.

For each session in the event's audience the script appends the envelope to that
session's stream (the history a reconnecting page resumes from) unless it is
there already, then PUBLISHes the envelope on `orderwire.events.<type>` (the
contract) and on the internal live channel with the stream positions.

Being one script, "appended to the stream" and "published live" happen together:
a web process that subscribed before reading the stream can never miss an event
between the two. Being keyed by event id, publishing twice appends once.

Per-order order: the script keeps each aggregate's last published version. The fast
path (a worker, right after its commit) publishes with `only_next`: an event goes out
only if it is its aggregate's next version, so it never overtakes an earlier event
still waiting in the outbox (that one, and this, are then the relay's, in commit
order). The script also lists the ids of the events the fast path published, and the
relay marks those published in the outbox in batches, off the command's path.
"""

import hashlib
from collections.abc import Callable

import redis
from redis.client import Pipeline
from redis.exceptions import NoScriptError

from orderwire.outbox.envelope import channel_for
from orderwire.outbox.keys import (
    LIVE_CHANNEL,
    POSITION_PREFIX,
    PUBLISHED_IDS,
    PUBLISHED_VERSION_PREFIX,
    STREAM_PREFIX,
)
from orderwire.outbox.store import OutboxEvent

PUBLISH_SCRIPT = """
local event_id, channel, envelope = ARGV[1], ARGV[2], ARGV[3]
local maxlen, ttl = ARGV[4], tonumber(ARGV[5])
local version, only_next = tonumber(ARGV[6]), ARGV[7] == '1'
local last = tonumber(redis.call('GET', KEYS[4]) or '0')
if only_next and version ~= last + 1 then return 0 end
local marker = KEYS[1] .. event_id
local positions = {}
local any = false
for i = 8, #ARGV do
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
if any then redis.call('EXPIRE', marker, ttl) end
redis.call('PUBLISH', channel, envelope)
local encoded = any and cjson.encode(positions) or '{}'
redis.call('PUBLISH', KEYS[3], '{"positions":' .. encoded .. ',"envelope":' .. envelope .. '}')
if version > last then redis.call('SET', KEYS[4], version, 'EX', ttl) end
-- The fast path's events, for the relay to mark (the relay marks its own itself). Bounded
-- while no relay runs: a trimmed id stays unmarked and is published again later.
if only_next and redis.call('RPUSH', KEYS[5], event_id) > 1000000 then
  redis.call('LTRIM', KEYS[5], -1000000, -1)
end
return 1
"""


class RedisEventPublisher:
    """Publishes outbox events; raises redis errors (the caller then leaves them for the relay)."""

    def __init__(
        self, client: redis.Redis, *, history_length: int = 10_000, history_ttl: int = 25 * 3600
    ) -> None:
        self.client = client
        self.history_length = history_length
        self.history_ttl = history_ttl
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
                5,
                POSITION_PREFIX,
                STREAM_PREFIX,
                LIVE_CHANNEL,
                PUBLISHED_VERSION_PREFIX + event.aggregate_id,
                PUBLISHED_IDS,
                event.event_id,
                channel_for(event.type),
                event.envelope,
                self.history_length,
                self.history_ttl,
                event.aggregate_version,
                "1" if only_next else "0",
                *event.audience,
            )
        if also is not None:
            also(pipe)
        return pipe.execute()[: len(batch)]

    def take_published_ids(self, limit: int) -> list[str]:
        """Up to `limit` ids of published events, oldest first, still listed after this call:
        `forget_published_ids(n)` drops them once the relay has marked them."""
        return [raw.decode() for raw in self.client.lrange(PUBLISHED_IDS, 0, limit - 1)]

    def forget_published_ids(self, count: int) -> None:
        self.client.ltrim(PUBLISHED_IDS, count, -1)
