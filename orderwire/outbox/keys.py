"""Redis names used by orderwire. Channels named `orderwire.events.*` are the public contract;
the `orderwire:` keys are internal to orderwire's own processes."""

LIVE_CHANNEL = "orderwire:live"  # web processes: {positions: {session: stream id}, envelope}
STREAM_PREFIX = "orderwire:session:"  # per-session history for resuming (a Redis Stream)
POSITION_PREFIX = "orderwire:event:"  # event id -> {session: stream id}
PUBLISHED_VERSION_PREFIX = "orderwire:published-version:"  # aggregate id -> last version out
PUBLISHED_IDS = "orderwire:published-ids"  # event ids published, for the relay to mark (a list)


def session_stream(session_id: str) -> str:
    return STREAM_PREFIX + session_id


def event_positions(event_id: str) -> str:
    return POSITION_PREFIX + event_id
