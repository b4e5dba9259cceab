"""Read side: what the query endpoints and pages show, straight from the tables.

Every read is scoped to a session: orders and commands belong to the session that placed
or sent them, and another session's look exactly like ones that do not exist.
"""

import json
from typing import Any

from sqlalchemy import Connection, bindparam, literal, select, union_all

from domain.money import money_text
from orderwire.db.prepared import OnDriver, Prepared
from orderwire.db.tables import commands, events, notifications, orders
from orderwire.outbox.envelope import rfc3339


def _order(row: Any) -> dict[str, Any]:
    return {
        "order_id": row.order_id,
        "customer_name": row.customer_name,
        "lines": row.lines,
        "total": money_text(row.total),
        "status": row.status,
        "version": row.version,
        "placed_at": rfc3339(row.placed_at),
    }


def order(connection: Connection, order_id: str, session_id: str | None) -> dict[str, Any] | None:
    """The order if this session owns it, else None (whether or not it exists)."""
    if session_id is None:
        return None
    row = connection.execute(
        select(orders).where(orders.c.order_id == order_id, orders.c.owner_session == session_id)
    ).first()
    return _order(row) if row else None


def may_act_on(connection: OnDriver, order_id: str, session_id: str | None) -> bool:
    """Whether the session owns the order or is placing it (its PlaceOrder is accepted and
    not refused), so a pay sent right after the place is not turned away."""
    if session_id is None:
        return False
    return _MAY_ACT_ON.first(connection, {"the_order": order_id, "the_session": session_id}) \
        is not None


# Prepared (orderwire/db/prepared.py): the web asks it before accepting every command on
# an order, in the same driver transaction as the insert into the command log.
_MAY_ACT_ON = Prepared(
    union_all(
        select(orders.c.order_id).where(
            orders.c.order_id == bindparam("the_order"),
            orders.c.owner_session == bindparam("the_session"),
        ),
        select(commands.c.order_id).where(
            commands.c.session_id == bindparam("the_session"),
            commands.c.order_id == bindparam("the_order"),
            commands.c.command == literal("PlaceOrder"),
            commands.c.status.not_in([literal("rejected"), literal("failed")]),
        ),
    ).limit(1)
)


def orders_of_session(
    connection: Connection, session_id: str, *, page: int, per_page: int
) -> tuple[list[dict[str, Any]], bool]:
    """One page of the session's orders, newest first, and whether another page follows."""
    rows = connection.execute(
        select(orders)
        .where(orders.c.owner_session == session_id)
        .order_by(orders.c.placed_at.desc(), orders.c.order_id)
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    ).all()
    return [_order(row) for row in rows[:per_page]], len(rows) > per_page


def order_events(connection: Connection, order_id: str) -> list[dict[str, Any]]:
    """The order's timeline: its own events, in version order."""
    rows = connection.execute(
        select(events.c.envelope)
        .where(events.c.aggregate_id == order_id)
        .order_by(events.c.aggregate_version)
    ).scalars()
    return [json.loads(envelope) for envelope in rows]


def notifications_of_session(
    connection: Connection, session_id: str, *, limit: int = 50
) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(notifications)
        .where(notifications.c.session_id == session_id)
        .order_by(notifications.c.created_at.desc())
        .limit(limit)
    ).all()
    return [
        {
            "notification_id": row.notification_id,
            "order_id": row.order_id,
            "text": row.text,
            "created_at": rfc3339(row.created_at),
        }
        for row in rows
    ]


def command_status(record: dict[str, Any]) -> dict[str, Any]:
    """A command log row as the contract's GET /api/commands/<id> answer."""
    return {
        "request_id": record["request_id"],
        "command": record["command"],
        "status": record["status"],
        "attempts": record["attempts"],
        "result": record["result"],
        "error": record["error"],
        "accepted_at": rfc3339(record["accepted_at"]),
        "finished_at": rfc3339(record["finished_at"]) if record["finished_at"] else None,
        "order_id": record["order_id"],
    }


def refusals(
    connection: Connection, session_id: str, order_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """Per order, the session's latest finished command on it if that one was rejected or
    failed: what a page shows next to the order until a later command succeeds."""
    if not order_ids:
        return {}
    rows = connection.execute(
        select(commands.c.order_id, commands.c.command, commands.c.status, commands.c.error)
        .where(
            commands.c.session_id == session_id,
            commands.c.order_id.in_(order_ids),
            commands.c.finished_at.is_not(None),
        )
        .order_by(commands.c.finished_at)
    ).all()
    latest = {row.order_id: row for row in rows}
    return {
        order_id: {"command": row.command, "status": row.status, "error": row.error}
        for order_id, row in latest.items()
        if row.status in ("rejected", "failed")
    }


def placing(connection: Connection, order_id: str, session_id: str) -> dict[str, Any] | None:
    """This session's PlaceOrder for an order that does not exist (yet): its status and
    error, or None if the session never asked to place it."""
    row = connection.execute(
        select(commands.c.status, commands.c.error)
        .where(
            commands.c.order_id == order_id,
            commands.c.command == "PlaceOrder",
            commands.c.session_id == session_id,
        )
        .order_by(commands.c.accepted_at.desc())
        .limit(1)
    ).first()
    return {"status": row.status, "error": row.error} if row else None
