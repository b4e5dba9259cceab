"""The contract's event envelope (CONTRACT.md section 4): exact keys, JSON-ready data, decimals as
strings, occurred_at in UTC RFC 3339 with milliseconds and a Z."""

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from domain.commands import OrderLine
from domain.events import CommandFailed, CommandRejected, Event, NotificationCreated, OrderPaid
from domain.order import Order
from orderwire.outbox.envelope import channel_for, dumps, make_envelope, rfc3339

RFC3339_MS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ENVELOPE_KEYS = {
    "id", "type", "version", "occurred_at", "request_id", "aggregate_id", "aggregate_version",
    "data",
}


def an_envelope(event: Event, *, occurred_at: datetime | None = None) -> dict[str, Any]:
    return make_envelope(
        event_id="e-1",
        event_type=event.name,
        occurred_at=occurred_at or datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC),
        request_id="r-1",
        aggregate_id="a-1",
        aggregate_version=1,
        data=event.data(),
    )


def test_occurred_at_is_utc_with_milliseconds_and_a_z() -> None:
    moment = datetime(2026, 11, 23, 10, 0, 0, 123999, tzinfo=UTC)
    assert rfc3339(moment) == "2026-11-23T10:00:00.123Z"


def test_whole_seconds_still_carry_three_digits_of_milliseconds() -> None:
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000Z"


def test_other_time_zones_are_converted_to_utc() -> None:
    berlin_winter = timezone(timedelta(hours=1))
    moment = datetime(2026, 11, 23, 0, 30, 0, 5000, tzinfo=berlin_winter)
    assert rfc3339(moment) == "2026-11-22T23:30:00.005Z"


def test_naive_datetimes_from_sqlite_are_read_as_utc() -> None:
    assert rfc3339(datetime(2026, 11, 23, 10, 0, 0, 42000)) == "2026-11-23T10:00:00.042Z"


def test_the_envelope_has_exactly_the_contract_keys_and_survives_json() -> None:
    order = Order.place("o-1", "Ada", (OrderLine("tea", 3, Decimal("1.1")),))
    [recorded] = order.collect_events()
    envelope = an_envelope(recorded.event)
    assert set(envelope) == ENVELOPE_KEYS
    assert envelope["version"] == 1 and envelope["type"] == "OrderPlaced"
    assert RFC3339_MS_Z.fullmatch(envelope["occurred_at"])
    assert json.loads(dumps(envelope)) == envelope


def test_decimals_travel_as_strings_with_two_places() -> None:
    order = Order.place("o-1", "Ada", (OrderLine("tea", 3, Decimal("1.1")),))
    [placed] = order.collect_events()
    data = an_envelope(placed.event)["data"]
    assert data == {
        "order_id": "o-1",
        "customer_name": "Ada",
        "lines": [{"product": "tea", "quantity": 3, "unit_price": "1.10"}],
        "total": "3.30",
    }
    assert an_envelope(OrderPaid(order_id="o-1", total=Decimal("7")))["data"]["total"] == "7.00"


def test_a_rejection_without_an_order_omits_order_id() -> None:
    data = an_envelope(CommandRejected("PlaceOrder", "invalid_command", "bad"))["data"]
    assert data == {"command": "PlaceOrder", "code": "invalid_command", "message": "bad"}


def test_a_rejection_of_a_command_on_an_order_names_it() -> None:
    rejected = CommandRejected("PayOrder", "order_cancelled", "no", order_id="o-9")
    assert an_envelope(rejected)["data"]["order_id"] == "o-9"


def test_failed_commands_and_notifications_carry_the_contract_fields() -> None:
    failed = an_envelope(CommandFailed("ShipOrder", "attempts_exhausted", "gave up"))["data"]
    assert failed == {"command": "ShipOrder", "code": "attempts_exhausted", "message": "gave up"}
    note = an_envelope(NotificationCreated(notification_id="n-1", text="<b>hi</b>"))["data"]
    assert note == {"notification_id": "n-1", "text": "<b>hi</b>"}


def test_non_ascii_text_is_kept_as_is_on_the_wire() -> None:
    envelope = an_envelope(NotificationCreated(notification_id="n-1", text="Grüße, Zoë"))
    assert "Grüße, Zoë" in dumps(envelope)


def test_each_event_type_has_its_own_public_channel() -> None:
    assert channel_for("OrderPaid") == "orderwire.events.OrderPaid"
