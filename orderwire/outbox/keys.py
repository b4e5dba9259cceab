"""Redis names used by orderwire. Channels named `orderwire.events.*` are the public contract;
the `orderwire:` keys are internal to orderwire's own processes."""

# One channel per web process (its live hub): {positions: {session: stream id}, envelope},
# only for events of the sessions whose sockets it holds (web/live/hub.py).
LIVE_CHANNEL_PREFIX = "orderwire:live:"
ROUTE_PREFIX = "orderwire:route:"  # session id -> set of hub ids holding its sockets
STREAM_PREFIX = "orderwire:session:"  # per-session history for resuming (a Redis Stream)
POSITION_PREFIX = "orderwire:event:"  # event id -> {session: stream id}
PUBLISHED_VERSION_PREFIX = "orderwire:published-version:"  # aggregate id -> last version out
PUBLISHED_IDS = "orderwire:published-ids"  # event ids published, for the relay to mark (a list)


def session_stream(session_id: str) -> str:
    return STREAM_PREFIX + session_id


def event_positions(event_id: str) -> str:
    return POSITION_PREFIX + event_id


def live_channel(hub_id: str) -> str:
    return LIVE_CHANNEL_PREFIX + hub_id


def session_route(session_id: str) -> str:
    return ROUTE_PREFIX + session_id
