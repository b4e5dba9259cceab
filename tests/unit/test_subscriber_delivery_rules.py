"""The rules of after-commit delivery that need no database: which events after a position
are settled, how long a failing subscriber waits, and who subscribes to what."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderwire.outbox.deliveries.delivery import Backoff
from orderwire.outbox.deliveries.settled import settled_prefix
from orderwire.outbox.deliveries.subscriptions import subscriptions_from

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SETTLE = timedelta(seconds=120)


@dataclass
class Row:
    seq: int
    occurred_at: datetime


def fresh(seq: int) -> Row:
    return Row(seq, NOW - timedelta(seconds=1))


def old(seq: int) -> Row:
    return Row(seq, NOW - SETTLE - timedelta(seconds=1))


def test_consecutive_events_are_all_settled_however_fresh() -> None:
    rows = [fresh(11), fresh(12), fresh(13)]
    assert settled_prefix(rows, after=10, now=NOW, gap_settle=SETTLE) == 3


def test_a_fresh_event_after_a_gap_waits_for_the_transaction_that_may_fill_it() -> None:
    rows = [fresh(11), fresh(13), fresh(14)]
    assert settled_prefix(rows, after=10, now=NOW, gap_settle=SETTLE) == 1


def test_a_gap_right_after_the_position_holds_everything_back() -> None:
    assert settled_prefix([fresh(12)], after=10, now=NOW, gap_settle=SETTLE) == 0


def test_a_gap_below_an_event_inserted_longer_ago_than_any_transaction_lasts_is_passed() -> None:
    rows = [fresh(11), old(13), fresh(14), fresh(16)]
    assert settled_prefix(rows, after=10, now=NOW, gap_settle=SETTLE) == 3


def test_a_first_position_with_older_events_pruned_passes_the_old_gap() -> None:
    assert settled_prefix([old(5000), fresh(5001)], after=0, now=NOW, gap_settle=SETTLE) == 2


def test_naive_timestamps_from_sqlite_are_read_as_utc() -> None:
    rows = [Row(12, (NOW - timedelta(seconds=1)).replace(tzinfo=None))]
    assert settled_prefix(rows, after=10, now=NOW, gap_settle=SETTLE) == 0


def test_without_late_commits_every_visible_event_is_settled() -> None:
    rows = [fresh(12), fresh(20)]
    assert settled_prefix(rows, after=10, now=NOW, gap_settle=None) == 2


def test_backoff_doubles_from_one_second_up_to_its_cap() -> None:
    backoff = Backoff(first=1, cap=60)
    assert [backoff.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def send_receipt(envelope: dict[str, Any], connection: Any) -> None:
    pass


def book(envelope: dict[str, Any], connection: Any) -> None:
    pass


def test_each_subscriber_gets_every_type_it_is_registered_for() -> None:
    found = subscriptions_from({"OrderPaid": [book, send_receipt], "OrderCancelled": [book]})
    assert [(s.name, sorted(s.types)) for s in found] == [
        ("book", ["OrderCancelled", "OrderPaid"]),
        ("send_receipt", ["OrderPaid"]),
    ]


def test_two_subscribers_with_one_name_are_refused_because_the_name_keys_the_position() -> None:
    def impostor(envelope: dict[str, Any], connection: Any) -> None:
        pass

    impostor.__name__ = "book"
    with pytest.raises(ValueError, match="book"):
        subscriptions_from({"OrderPaid": [book], "OrderCancelled": [impostor]})
