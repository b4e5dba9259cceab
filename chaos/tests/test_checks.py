"""The chaos checks themselves: each one fails on the breakage it exists to catch.

They run on hand-made database snapshots and witnesses, so a check that passes
everything (and would hide a real failure after a storm) shows up here.
"""

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from chaos import checks
from chaos.observers import EventTap, LiveListener, Sighting
from chaos.phases import Phase, report
from chaos.traffic import Answer, Sent

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SESSION = "session-a"


def event(kind: str, aggregate: str, version: int, request: str, at: float) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "type": kind, "aggregate_id": aggregate,
            "aggregate_version": version, "request_id": request, "audience": [SESSION],
            "occurred_at": T0 + timedelta(seconds=at),
            "published_at": T0 + timedelta(seconds=at + 0.01)}


def command(request: str, name: str, status: str) -> dict[str, Any]:
    return {"request_id": request, "command": name, "status": status}


def a_storm() -> dict[str, Any]:
    """Two commands that went right: an order placed, then paid; and one rejected ship."""
    order = str(uuid.uuid4())
    return {
        "commands": [command("r1", "PlaceOrder", "succeeded"), command("r2", "PayOrder",
                     "succeeded"), command("r3", "ShipOrder", "rejected")],
        "orders": [{"order_id": order, "version": 2}],
        "events": [
            event("OrderPlaced", order, 1, "r1", 1), event("NotificationCreated", "n1", 1, "r1", 1),
            event("OrderPaid", order, 2, "r2", 2), event("NotificationCreated", "n2", 1, "r2", 2),
            event("CommandRejected", "r3", 1, "r3", 3),
        ],
    }


def tap_that_saw(db: dict[str, Any]) -> EventTap:
    tap = EventTap("redis://unused")
    for row in db["events"]:
        tap.seen[row["event_id"]] = Sighting(0.0)
        tap.order.append((row["event_id"], row["aggregate_id"], row["aggregate_version"]))
    return tap


def listener_that_got(db: dict[str, Any]) -> LiveListener:
    listener = LiveListener("http://unused", "session=x")
    listener.received = {row["event_id"]: 1 for row in db["events"]}
    return listener


def test_a_clean_storm_passes_every_check() -> None:
    db = a_storm()
    accepted = [Sent("r1", "/api/orders", 0, 202), Sent("r2", "/x/pay", 0, 202)]
    results = [
        checks.every_command_final(db, accepted),
        checks.exactly_once(db),
        checks.every_event_published(db, tap_that_saw(db)),
        checks.no_websocket_missed(db, {SESSION: listener_that_got(db)}),
    ]
    assert [result.passed for result in results] == [True, True, True, True], results


def test_an_unfinished_command_or_a_202_without_a_row_fails() -> None:
    db = a_storm()
    db["commands"][2]["status"] = "running"
    assert not checks.every_command_final(db, []).passed
    assert not checks.every_command_final(a_storm(), [Sent("lost", "/api/orders", 0, 202)]).passed


def test_an_order_placed_twice_fails() -> None:
    db = a_storm()
    db["events"].append({**copy.deepcopy(db["events"][0]), "event_id": "again"})
    assert not checks.exactly_once(db).passed


def test_a_gap_in_an_orders_versions_fails() -> None:
    db = a_storm()
    db["orders"][0]["version"] = 3
    assert not checks.exactly_once(db).passed


def test_a_command_with_a_missing_or_extra_event_fails() -> None:
    db = a_storm()
    del db["events"][3]  # the payment's notification
    assert not checks.exactly_once(db).passed
    db = a_storm()
    db["events"].append(event("CommandRejected", "r1", 1, "r1", 4))
    assert not checks.exactly_once(db).passed


def test_an_unmarked_or_unseen_event_fails_unless_the_tap_was_reconnecting() -> None:
    db = a_storm()
    db["events"][2]["published_at"] = None
    assert not checks.every_event_published(db, tap_that_saw(db)).passed

    db = a_storm()
    tap = tap_that_saw(db)
    del tap.seen[db["events"][2]["event_id"]]
    assert not checks.every_event_published(db, tap).passed
    published = db["events"][2]["published_at"].timestamp()
    tap.blind.append((published - 0.1, published + 0.1))
    assert checks.every_event_published(db, tap).passed


def test_events_of_one_order_seen_out_of_version_order_fail() -> None:
    db = a_storm()
    tap = tap_that_saw(db)
    tap.order[0], tap.order[2] = tap.order[2], tap.order[0]
    assert not checks.every_event_published(db, tap).passed


def test_a_websocket_missing_an_event_fails_unless_a_later_resync_covered_it() -> None:
    db = a_storm()
    listener = listener_that_got(db)
    del listener.received[db["events"][2]["event_id"]]
    assert not checks.no_websocket_missed(db, {SESSION: listener}).passed
    listener.resyncs.append(db["events"][2]["occurred_at"].timestamp() - 1)  # too early
    assert not checks.no_websocket_missed(db, {SESSION: listener}).passed
    listener.resyncs.append(db["events"][2]["occurred_at"].timestamp() + 1)
    assert checks.no_websocket_missed(db, {SESSION: listener}).passed


def test_duplicates_are_dropped_not_counted_as_missing() -> None:
    db = a_storm()
    listener = listener_that_got(db)
    listener.received[db["events"][0]["event_id"]] = 2
    result = checks.no_websocket_missed(db, {SESSION: listener})
    assert result.passed and "1 duplicates dropped" in result.detail


def test_processes_rode_through_fails_when_a_process_was_replaced_or_died() -> None:
    before = {"web": 10, "worker": 20, "relay": 30}

    assert checks.processes_rode_through(before, dict(before), 5).passed
    replaced = checks.processes_rode_through(before, {"web": 10, "worker": 21, "relay": 30}, 5)
    gone = checks.processes_rode_through(before, {"web": 10, "worker": 20}, 5)
    assert not replaced.passed and "worker" in replaced.detail
    assert not gone.passed and "relay" in gone.detail


# --- 5xx, process deaths and the per-fault table ----------------------------------------


def test_only_a_503_with_retry_after_is_an_acceptable_5xx() -> None:
    fine = [Answer(1, 2, 202), Answer(1, 2, 503, retry_after=True), Answer(1, 2, "error")]
    assert checks.no_server_errors(fine).passed
    for bad in (Answer(1, 2, 500), Answer(1, 2, 503), Answer(1, 2, 502, retry_after=True)):
        check = checks.no_server_errors([*fine, bad])
        assert not check.passed and str(bad.status) in check.detail


def test_a_process_that_died_unkilled_fails_the_run() -> None:
    assert checks.processes_survived([]).passed
    check = checks.processes_survived(["the Celery worker died (exit 1) after a Redis restart"])
    assert not check.passed and "Redis restart" in check.detail


def test_the_fault_table_counts_what_was_sent_accepted_finished_lost_and_doubled() -> None:
    db = a_storm()
    db["commands"].append(command("r4", "PayOrder", "accepted"))  # never finished: lost
    db["events"].append(event("OrderPaid", db["orders"][0]["order_id"], 3, "r2", 4))  # twice
    early, late = Phase("calm", "", 0.0, 10.0), Phase("redis", "", 10.0, 20.0)
    sent = [
        Sent("r1", "/api/orders", 0, 202, 1, [Answer(1, 2, 202)]),
        Sent("r2", "/p", 0, 202, 2, [Answer(11, 12, 503, retry_after=True), Answer(13, 14, 202)]),
        Sent("r4", "/p", 0, 202, 1, [Answer(15, 16, 202)]),
        Sent("r5", "/p", 0, 404, 1, [Answer(17, 18, 404)]),
    ]
    reads = [("orders", Answer(12, 13, 500))]

    calm, redis_row = report([early, late], sent, reads, db)

    assert (calm["sent"], calm["accepted"], calm["final"], calm["lost"], calm["doubled"]) == (
        1, 1, 1, 0, 0)
    assert (redis_row["sent"], redis_row["accepted"], redis_row["final"]) == (3, 2, 1)
    assert (redis_row["lost"], redis_row["doubled"]) == (1, 1)
    assert (redis_row["5xx"], redis_row["5xx_not_503"], redis_row["reads"]) == (2, 1, 1)


def ledger_storm(*, booked: list[dict[str, Any]], parked: int = 0) -> dict[str, Any]:
    """Two paid orders on 2026-11-23, one of them cancelled afterwards (a refund)."""

    def paid(order: str, total: str) -> dict[str, Any]:
        envelope = {"type": "OrderPaid", "aggregate_id": order,
                    "occurred_at": "2026-11-23T10:00:00.000Z", "data": {"total": total}}
        return {"type": "OrderPaid", "envelope": json.dumps(envelope)}

    cancelled = {"type": "OrderCancelled", "envelope": json.dumps(
        {"type": "OrderCancelled", "aggregate_id": "o2", "occurred_at": "2026-11-23T11:00:00.000Z",
         "data": {"reason": "late"}})}
    return {"events": [paid("o1", "2.50"), paid("o2", "4.00"), cancelled], "ledger": booked,
            "parked": parked}


def test_a_ledger_with_each_uncancelled_payment_once_passes() -> None:
    booked = [{"day": "2026-11-23", "orders_paid": 1, "revenue": "2.50"}]
    assert checks.sales_ledger_booked_once(ledger_storm(booked=booked)).passed


def test_a_payment_booked_twice_or_missing_or_a_refund_not_taken_fails() -> None:
    for wrong in ((2, "5.00"), (0, "0.00"), (2, "6.50")):
        booked = [{"day": "2026-11-23", "orders_paid": wrong[0], "revenue": wrong[1]}]
        assert not checks.sales_ledger_booked_once(ledger_storm(booked=booked)).passed, wrong


def test_a_parked_delivery_fails_the_ledger_check() -> None:
    booked = [{"day": "2026-11-23", "orders_paid": 1, "revenue": "2.50"}]
    assert not checks.sales_ledger_booked_once(ledger_storm(booked=booked, parked=1)).passed
