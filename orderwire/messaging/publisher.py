"""Publishing an event to Redis: one atomic Lua script per event.

For each session in the event's audience the script appends the envelope to that
session's stream (the history a reconnecting page resumes from) unless it is
there already, then PUBLISHes the envelope on `orderwire.events.<type>` (the
contract) and on the internal live channel with the stream positions.

Being one script, "appended to the stream" and "published live" happen together:
a web process that subscribed before reading the stream can never miss an event
between the two. Being keyed by event id, publishing twice appends once.
"""

import redis

from orderwire.db.outbox import OutboxEvent
from orderwire.messaging.envelope import channel_for
from orderwire.messaging.keys import LIVE_CHANNEL, POSITION_PREFIX, STREAM_PREFIX

PUBLISH_SCRIPT = """
local event_id, channel, envelope = ARGV[1], ARGV[2], ARGV[3]
local maxlen, ttl = ARGV[4], tonumber(ARGV[5])
local marker = KEYS[1] .. event_id
local positions = {}
local any = false
for i = 6, #ARGV do
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
        self._script = client.register_script(PUBLISH_SCRIPT)

    def publish(self, batch: list[OutboxEvent]) -> None:
        if not batch:
            return
        pipe = self.client.pipeline(transaction=False)
        for event in batch:
            self._script(
                keys=[POSITION_PREFIX, STREAM_PREFIX, LIVE_CHANNEL],
                args=[
                    event.event_id,
                    channel_for(event.type),
                    event.envelope,
                    self.history_length,
                    self.history_ttl,
                    *event.audience,
                ],
                client=pipe,
            )
        pipe.execute()
