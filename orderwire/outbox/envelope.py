"""The contract's event envelope (CONTRACT.md section 4), built in one place."""

import json
from datetime import UTC, datetime
from typing import Any

ENVELOPE_VERSION = 1


def rfc3339(moment: datetime) -> str:
    """UTC with milliseconds and a Z: 2026-11-23T10:00:00.123Z."""
    # SQLite hands back naive datetimes; orderwire only ever stores UTC.
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def make_envelope(
    *,
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    request_id: str | None,
    aggregate_id: str,
    aggregate_version: int,
    data: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": event_type,
        "version": ENVELOPE_VERSION,
        "occurred_at": rfc3339(occurred_at),
        "request_id": request_id,
        "aggregate_id": aggregate_id,
        "aggregate_version": aggregate_version,
        "data": data,
    }


def dumps(envelope: dict[str, Any]) -> str:
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def channel_for(event_type: str) -> str:
    return f"orderwire.events.{event_type}"
