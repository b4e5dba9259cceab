"""`orderwire feed rebuild --since`: the times and durations it takes, and what it refuses."""

from datetime import UTC, datetime, timedelta

import pytest

from orderwire.feed.rebuild import parse_since

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-30T06:00:00Z", datetime(2026, 11, 30, 6, 0, tzinfo=UTC)),
        ("2026-11-30T06:00:00", datetime(2026, 11, 30, 6, 0, tzinfo=UTC)),  # UTC unless told
        ("2026-11-30T07:00:00+01:00", datetime(2026, 11, 30, 6, 0, tzinfo=UTC)),
        ("2026-11-29", datetime(2026, 11, 29, tzinfo=UTC)),
        ("90m", NOW - timedelta(minutes=90)),
        ("2h", NOW - timedelta(hours=2)),
        ("3d", NOW - timedelta(days=3)),
        ("45s", NOW - timedelta(seconds=45)),
    ],
)
def test_since_takes_an_iso_time_or_a_duration_back_from_now(
    text: str, expected: datetime
) -> None:
    parsed = parse_since(text, now=NOW)
    assert parsed == expected
    assert parsed.tzinfo is not None and parsed.utcoffset() == UTC.utcoffset(None)


@pytest.mark.parametrize("text", ["", "yesterday", "2h ago", "-2h", "2w", "2026-13-01"])
def test_since_refuses_what_it_cannot_read_and_says_what_it_takes(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_since(text, now=NOW)


def test_since_refuses_the_future() -> None:
    with pytest.raises(ValueError, match="future"):
        parse_since("2026-12-01T00:00:00Z", now=NOW)
