"""Test helpers that read and write the command log and the outbox directly, as the web would."""

import json
import uuid
from typing import Any

from sqlalchemy import Engine, func, select

from orderwire.db import command_log
from orderwire.db.command_log import NewCommand
from orderwire.db.tables import commands, events, orders
from tests.payloads import a_key


def record_command(
    engine: Engine,
    command: str,
    payload: dict[str, Any],
    *,
    session_id: str | None = None,
    request_id: str | None = None,
) -> str:
    """Store an accepted command as the web does before its 202 (without enqueueing it);
    returns its command id, what a worker task is given."""
    new = NewCommand(
        request_id=request_id or a_key("test"),
        command=command,
        payload=payload,
        fingerprint=uuid.uuid4().hex,
        session_id=session_id,
        order_id=payload.get("order_id"),
    )
    with engine.begin() as connection:
        command_log.record(connection, new)
    return new.command_id


def command_row(engine: Engine, some_id: str) -> dict[str, Any] | None:
    """The command with this command id, or with this request id: tests use random keys, so
    either names one command (a test that shares a key between sessions asks by command id)."""
    query = select(commands).where(
        (commands.c.command_id == some_id) | (commands.c.request_id == some_id)
    )
    with engine.connect() as connection:
        found = connection.execute(query).mappings().first()
    return dict(found) if found else None


def recorded_command(engine: Engine, some_id: str) -> dict[str, Any]:
    """`command_row` for a test whose point is that the command was recorded: says so when
    it was not, where indexing a missing row would raise a TypeError."""
    row = command_row(engine, some_id)
    assert row is not None, f"no command recorded under {some_id}"
    return row


def command_id_of(engine: Engine, request_id: str) -> str:
    """The command id of the one command with this request id (tests use unique keys)."""
    query = select(commands.c.command_id).where(commands.c.request_id == request_id)
    with engine.connect() as connection:
        return connection.execute(query).scalar_one()


def execute_request(services: Any, request_id: str) -> Any:
    """Run the command the web accepted under this request id, as a worker would."""
    return services.execute(command_id_of(services.engine, request_id))


def command_count(engine: Engine, request_id: str | None = None) -> int:
    query = select(func.count()).select_from(commands)
    if request_id is not None:
        query = query.where(commands.c.request_id == request_id)
    with engine.connect() as connection:
        return connection.execute(query).scalar_one()


def order_count(engine: Engine, order_id: str) -> int:
    query = select(func.count()).select_from(orders).where(orders.c.order_id == order_id)
    with engine.connect() as connection:
        return connection.execute(query).scalar_one()


def stored_events(
    engine: Engine,
    *,
    request_id: str | None = None,
    command_id: str | None = None,
    aggregate_id: str | None = None,
) -> list[dict[str, Any]]:
    """Outbox rows in commit order, each as its envelope plus the audience it was sent to;
    by the client's request id, or by the command id (what record_command returns)."""
    query = select(events.c.envelope, events.c.audience).order_by(events.c.seq)
    if command_id is not None:
        query = query.where(events.c.request_id == select(commands.c.request_id).where(
            commands.c.command_id == command_id
        ).scalar_subquery())
    elif request_id is not None:
        query = query.where(events.c.request_id == request_id)
    if aggregate_id is not None:
        query = query.where(events.c.aggregate_id == aggregate_id)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    found = []
    for envelope, audience in rows:
        event = json.loads(envelope)
        event["audience"] = audience if isinstance(audience, list) else json.loads(audience)
        found.append(event)
    return found


def event_types(engine: Engine, **where: str) -> list[str]:
    return [event["type"] for event in stored_events(engine, **where)]
