"""After the storm: every promise checked against the database and the witnesses.

1. Every accepted command reached a final status (and every 202 has its row).
2. Each took effect exactly once: one order row per OrderPlaced and back; per order,
   versions 1..n with n the order's version; per command, exactly the events its
   outcome calls for (one domain event and one notification, or one verdict).
3. Every committed event was published: `published_at` set, and seen by the tap
   unless it was published while the tap was not subscribed; per order, the tap saw
   first sightings in version order.
4. No websocket missed an event of its session (after dropping duplicates by id),
   except events that a `resync` told it to reload.
5. Redis restarting restarted no process: web, worker, relay keep their PIDs.
6. The after-commit subscribers applied every event once: the sales ledger holds exactly
   the paid orders that were not cancelled, per day, and nothing is parked.
"""

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select

from chaos.observers import EventTap, LiveListener
from chaos.traffic import Answer, Sent
from orderwire.db.tables import commands, events, orders, parked_deliveries, sales_ledger

ORDER_EVENT = {"PlaceOrder": "OrderPlaced", "PayOrder": "OrderPaid",
               "ShipOrder": "OrderShipped", "CancelOrder": "OrderCancelled"}
VERDICT = {"rejected": "CommandRejected", "failed": "CommandFailed"}
BLIND_SLACK = 0.5  # seconds: a publish just before Redis died may never reach a subscriber


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


def _epoch(moment: Any) -> float:
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).timestamp()


def load(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        return {
            "commands": [dict(r) for r in connection.execute(select(commands)).mappings()],
            "orders": [dict(r) for r in connection.execute(select(orders)).mappings()],
            "events": [dict(r) for r in connection.execute(
                select(events).order_by(events.c.seq)).mappings()],
            "ledger": [dict(r) for r in connection.execute(select(sales_ledger)).mappings()],
            "parked": connection.execute(
                select(func.count()).select_from(parked_deliveries)).scalar_one(),
        }


def processes_rode_through(before: dict[str, int], after: dict[str, int], restarts: int) -> Check:
    lost = sorted(name for name, pid in before.items() if after.get(name) != pid)
    return Check(
        "every process rode through Redis",
        not lost,
        f"{len(before) - len(lost)} of {len(before)} processes kept their PID through "
        f"{restarts} Redis restarts" + (f"; replaced or gone: {', '.join(lost)}" if lost else ""),
    )


def every_command_final(db: dict[str, Any], accepted: list[Sent]) -> Check:
    by_key = {row["request_id"]: row for row in db["commands"]}
    missing = [sent.key for sent in accepted if sent.key not in by_key]
    unfinished = [row["request_id"] for row in db["commands"]
                  if row["status"] in ("accepted", "running")]
    statuses = Counter(row["status"] for row in db["commands"])
    detail = (f"{len(accepted)} answered 202, {len(db['commands'])} recorded: "
              + ", ".join(f"{status} {count}" for status, count in sorted(statuses.items())))
    codes = Counter(f"{row['status']}:{(row.get('error') or {}).get('code')}"
                    for row in db["commands"] if row["status"] in ("rejected", "failed"))
    if codes:
        detail += " (" + ", ".join(f"{code} {n}" for code, n in sorted(codes.items())) + ")"
    if missing:
        detail += f"; 202 without a row: {missing[:3]}"
    if unfinished:
        detail += f"; unfinished: {unfinished[:3]}"
    return Check("every accepted command is final", not missing and not unfinished, detail)


def exactly_once(db: dict[str, Any]) -> Check:
    problems: list[str] = []
    placed = Counter(e["aggregate_id"] for e in db["events"] if e["type"] == "OrderPlaced")
    order_rows = {row["order_id"]: row for row in db["orders"]}
    problems += [f"order {o} placed {n} times" for o, n in placed.items() if n != 1]
    problems += [f"order {o} has no OrderPlaced" for o in order_rows if o not in placed]
    problems += [f"OrderPlaced {o} has no order row" for o in placed if o not in order_rows]
    versions: dict[str, list[int]] = defaultdict(list)
    for event in db["events"]:
        if event["aggregate_id"] in order_rows:
            versions[event["aggregate_id"]].append(event["aggregate_version"])
    for order_id, row in order_rows.items():
        seen = sorted(versions[order_id])
        if seen != list(range(1, row["version"] + 1)):
            problems.append(f"order {order_id}: versions {seen}, order at {row['version']}")
    problems += wrong_effects(db).values()
    succeeded_places = sum(1 for row in db["commands"]
                           if row["command"] == "PlaceOrder" and row["status"] == "succeeded")
    if succeeded_places != len(order_rows):
        problems.append(f"{succeeded_places} PlaceOrder succeeded, {len(order_rows)} orders")
    detail = (f"{len(order_rows)} orders, {len(db['events'])} events, "
              f"{len(db['commands'])} commands checked")
    return Check("each command took effect exactly once", not problems,
                 detail + ("; " + "; ".join(problems[:4]) if problems else ""))


def wrong_effects(db: dict[str, Any]) -> dict[str, str]:
    """Per request id, what is wrong with the events its command left: none twice, none
    missing (succeeded: its domain event and one notification; refused: one verdict)."""
    by_request: dict[str, Counter] = defaultdict(Counter)
    for event in db["events"]:
        by_request[event["request_id"]][event["type"]] += 1
    wrong = {}
    for row in db["commands"]:
        got = by_request.get(row["request_id"], Counter())
        if row["status"] == "succeeded":
            wanted = Counter({ORDER_EVENT[row["command"]]: 1, "NotificationCreated": 1})
        else:
            wanted = Counter({VERDICT[row["status"]]: 1}) if row["status"] in VERDICT else got
        if got != wanted:
            wrong[row["request_id"]] = (
                f"{row['command']} {row['request_id']} ({row['status']}): {dict(got)}"
            )
    return wrong


def no_server_errors(answers: list[Answer]) -> Check:
    """A dependency that is away is a 503 with Retry-After; anything else 5xx is a bug."""
    unavailable = [a for a in answers if a.status == 503 and a.retry_after]
    wrong = Counter(str(a.status) + ("" if a.retry_after else " without Retry-After")
                    for a in answers
                    if isinstance(a.status, int) and a.status >= 500 and a not in unavailable)
    detail = (f"{len(answers)} answers to commands and reads: {len(unavailable)} were 503 with "
              f"Retry-After, {sum(1 for a in answers if a.status == 'error')} connection errors")
    if wrong:
        detail += "; other 5xx: " + ", ".join(f"{k} x{n}" for k, n in sorted(wrong.items()))
    return Check("no 5xx but 503 with Retry-After", not wrong, detail)


def processes_survived(casualties: list[str]) -> Check:
    """Processes must survive what the storm does to *other* processes; a death of one
    that was not itself killed is reported here (and it is restarted, as a supervisor
    would, so the rest of the run still measures something)."""
    return Check("no process died that was not killed", not casualties,
                 "; ".join(casualties) if casualties else "every unkilled process lived")


def every_event_published(db: dict[str, Any], tap: EventTap) -> Check:
    unmarked = [e["event_id"] for e in db["events"] if e["published_at"] is None]
    unseen, while_blind = [], 0
    for event in db["events"]:
        if event["event_id"] in tap.seen:
            continue
        published = _epoch(event["published_at"]) if event["published_at"] else None
        if published is not None and any(start - BLIND_SLACK <= published <= end + BLIND_SLACK
                                         for start, end in tap.blind):
            while_blind += 1
        else:
            unseen.append(event["event_id"])
    out_of_order = _out_of_order(tap)
    detail = (f"{len(db['events']) - len(unmarked)}/{len(db['events'])} marked published; tap saw "
              f"{len(tap.seen)} ({tap.duplicates} duplicates dropped, {while_blind} published "
              f"while it was reconnecting, blind {sum(b - a for a, b in tap.blind):.2f} s)")
    if unmarked:
        detail += f"; unmarked: {unmarked[:3]}"
    if unseen:
        detail += f"; never seen: {unseen[:3]}"
    if out_of_order:
        detail += f"; out of order: {out_of_order[:3]}"
    return Check("every committed event was published", not (unmarked or unseen or out_of_order),
                 detail)


def _out_of_order(tap: EventTap) -> list[str]:
    last: dict[str, int] = {}
    problems = []
    for _event_id, aggregate_id, version in tap.order:
        if version <= last.get(aggregate_id, 0):
            problems.append(f"{aggregate_id} v{version} after v{last[aggregate_id]}")
        last[aggregate_id] = max(version, last.get(aggregate_id, 0))
    return problems


def no_websocket_missed(db: dict[str, Any], listeners: dict[str, LiveListener]) -> Check:
    missed, reloaded, expected_total, duplicates = [], 0, 0, 0
    for session_id, listener in listeners.items():
        duplicates += listener.duplicates
        for event in db["events"]:
            audience = event["audience"]
            audience = audience if isinstance(audience, list) else json.loads(audience)
            if session_id not in audience:
                continue
            expected_total += 1
            if event["event_id"] in listener.received:
                continue
            occurred = _epoch(event["occurred_at"])
            if any(resync >= occurred for resync in listener.resyncs):
                reloaded += 1
            else:
                missed.append(event["event_id"])
    resyncs = sum(len(listener.resyncs) for listener in listeners.values())
    reconnects = sum(max(0, listener.connections - 1) for listener in listeners.values())
    detail = (f"{expected_total - len(missed) - reloaded}/{expected_total} received live over "
              f"{reconnects} reconnects; {reloaded} covered by {resyncs} resyncs; "
              f"{duplicates} duplicates dropped")
    if missed:
        detail += f"; missed: {missed[:3]}"
    return Check("no websocket missed an event", not missed, detail)


def sales_ledger_booked_once(db: dict[str, Any]) -> Check:
    """What the after-commit subscribers should have made of the events: each paid order
    booked once on its payment's day, taken out again if it was cancelled."""
    envelopes = [json.loads(e["envelope"]) for e in db["events"]
                 if e["type"] in ("OrderPaid", "OrderCancelled")]
    cancelled = {e["aggregate_id"] for e in envelopes if e["type"] == "OrderCancelled"}
    expected: dict[str, list] = defaultdict(lambda: [0, Decimal("0")])
    for envelope in envelopes:
        if envelope["type"] == "OrderPaid" and envelope["aggregate_id"] not in cancelled:
            day = expected[envelope["occurred_at"][:10]]
            day[0] += 1
            day[1] += Decimal(envelope["data"]["total"])
    booked = {row["day"]: [row["orders_paid"], Decimal(row["revenue"])] for row in db["ledger"]
              if row["orders_paid"] or Decimal(row["revenue"])}
    want = {day: totals for day, totals in expected.items() if totals[0] or totals[1]}
    paid = sum(1 for e in envelopes if e["type"] == "OrderPaid")
    detail = (f"{paid} payments, {len(cancelled)} cancellations: "
              f"{sum(t[0] for t in want.values())} orders, "
              f"{sum((t[1] for t in want.values()), Decimal('0'))} expected in the ledger, "
              f"{sum(t[0] for t in booked.values())} orders, "
              f"{sum((t[1] for t in booked.values()), Decimal('0'))} booked; "
              f"{db['parked']} deliveries parked")
    return Check("the sales ledger booked every payment once", booked == want and not db["parked"],
                 detail)
