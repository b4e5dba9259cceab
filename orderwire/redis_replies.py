"""redis-py's reply types, narrowed once to what orderwire's clients receive.

Every Redis client orderwire makes leaves `decode_responses` off, so replies are bytes;
redis-py types them as `bytes | str` (it cannot know), and every stream entry's fields as
possibly None (only a deleted entry still pending in a consumer group has none: XRANGE,
XREVRANGE and the publisher's streams never return one). Saying so here, where a reply is
read, keeps the checks that matter (a trimmed entry in the feed) from drowning in checks
that cannot fail.
"""

from typing import Any, TypedDict, cast

StreamEntry = tuple[bytes, dict[bytes, bytes]]  # (stream id, fields)


def stream_entries(reply: Any) -> list[StreamEntry]:
    """An XRANGE or XREVRANGE reply."""
    return cast(list[StreamEntry], reply)


def group_reply(reply: Any) -> list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes] | None]]]]:
    """An XREADGROUP reply, [(stream, entries)], empty when the read timed out (None); here
    an entry's fields may be None or empty: it was deleted while pending."""
    return cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes] | None]]]], reply or [])


class PendingEntry(TypedDict):
    """One entry of an XPENDING reply with a range, as redis-py parses it."""

    message_id: bytes
    consumer: bytes
    time_since_delivered: int  # milliseconds
    times_delivered: int


def pending_entries(reply: Any) -> list[PendingEntry]:
    """An XPENDING reply with a range (`xpending_range`)."""
    return cast(list[PendingEntry], reply)


def byte_strings(reply: Any) -> list[bytes]:
    """A reply that is a list of values (LRANGE, SMEMBERS as a list)."""
    return cast(list[bytes], reply)
