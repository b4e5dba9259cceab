"""The Redis names of the durable feed. `orderwire:events` is the public contract
(CONTRACT.md section 4); the per-group keys are the subscriber kit's own."""

FEED_STREAM = "orderwire:events"  # field `envelope`: the JSON envelope
FEED_MAXLEN = 1_000_000  # ORDERWIRE_FEED_MAXLEN's default
FEED_MARKER_FIELD = "@feed"  # in orderwire:event:<id>; session ids never start with @


def handled_key(group: str) -> str:
    """Event ids a group has handled (a sorted set scored by time), for dedup."""
    return f"orderwire:feed:{group}:handled"


def parked_key(group: str) -> str:
    """Events a group's handler kept failing on (a stream), set aside for an operator."""
    return f"orderwire:feed:{group}:parked"
