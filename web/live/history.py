"""Each session's recent events, kept in a Redis Stream by the publisher's script.

Why a Redis Stream and not the events table: a stream's ids are assigned in the
order events are *published*, which per order is commit order, and the publisher
appends and announces in one atomic script. The events table's `seq` is assigned
before commit, so "every event after seq N" can miss a transaction that commits
late; replaying from it would need the same care the relay takes.
"""

import redis

from orderwire.outbox.keys import event_positions, session_stream
from orderwire.redis_replies import stream_entries

PAGE = 500


class SessionHistory:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def newest(self, session_id: str) -> tuple[str, str] | None:
        """(position, event id) of the session's newest event, or None."""
        entries = stream_entries(self.client.xrevrange(session_stream(session_id), count=1))
        if not entries:
            return None
        position, fields = entries[0]
        return _text(position), _text(fields[b"id"])

    def position_of(self, session_id: str, event_id: str) -> str | None:
        position = self.client.hget(event_positions(event_id), session_id)
        return _text(position) if position is not None else None

    def after(self, session_id: str, position: str | None) -> list[tuple[str, str]] | None:
        """Every (position, envelope) after `position` (None: every one kept), oldest first;
        None if `position` is no longer kept (trimmed or expired): the caller must resync."""
        stream = session_stream(session_id)
        found: list[tuple[str, str]] = []
        start = position or "-"
        first_page = True
        while True:
            entries = stream_entries(self.client.xrange(stream, min=start, count=PAGE + 1))
            resume_point_gone = not entries or _text(entries[0][0]) != position
            if first_page and position is not None and resume_point_gone:
                return None
            first_page = False
            page = [
                (_text(entry_id), _text(fields[b"envelope"]))
                for entry_id, fields in entries
                if _text(entry_id) != start
            ]
            found.extend(page)
            if len(entries) <= PAGE or not page:
                return found
            start = page[-1][0]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
