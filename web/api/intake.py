"""Accepting a command: durably recorded first, then enqueued, then answered 202.

Shared by the JSON API and the no-JavaScript form. The insert *is* the
idempotency check (a unique request id), so concurrent duplicates cannot race;
enqueueing after the commit means a worker never sees a command that is not
stored, and if enqueueing fails the sweeper sends it later.

Ownership: a request id is scoped to its session (the command log's key is derived from
both), and a command on an order is taken only from the session that owns the order or
is placing it; from any other it is a 404, as for an order that does not exist.
"""

import hashlib
import json
import logging
import re
from typing import Any

from flask import current_app, request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from domain.commands import Command, PlaceOrder
from orderwire.bootstrap import Orderwire
from orderwire.command_payloads import to_payload
from orderwire.db import command_log, read_models
from orderwire.db.command_log import KeyReused, NewCommand
from orderwire.db.engine import read_only
from orderwire.logs import request_id_var
from web.api.errors import ApiError

log = logging.getLogger("orderwire.web")

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def orderwire() -> Orderwire:
    return current_app.extensions["orderwire"]


def reader() -> Engine:
    """The engine for queries: reads never queue behind a writer (see db.engine.read_only)."""
    return read_only(orderwire().engine)


def valid_request_id(value: str | None) -> str | None:
    """The Idempotency-Key (or X-Request-Id) header, checked; None if absent."""
    if value is None:
        return None
    if not REQUEST_ID_PATTERN.fullmatch(value):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 128 characters of A-Z a-z 0-9 . _ : -",
        )
    return value


def fingerprint(endpoint: str, body: Any) -> str:
    canonical = json.dumps({"endpoint": endpoint, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def accept(
    command: Command, *, request_id: str, body_fingerprint: str, session_id: str | None
) -> tuple[dict[str, Any], bool]:
    """Record and enqueue; returns (command log row, created). Raises ApiError 404/409/503."""
    request_id_var.set(request_id)  # every line logged from here on names the command
    services = orderwire()
    new = NewCommand(
        request_id=request_id,
        command=command.name,
        payload=to_payload(command),
        fingerprint=body_fingerprint,
        session_id=session_id,
        order_id=command.order_id,
    )
    try:
        with services.engine.begin() as connection:
            if not isinstance(command, PlaceOrder) and not read_models.may_act_on(
                connection, command.order_id, session_id
            ):
                raise ApiError(404, "not_found", "no such order")
            record, created = command_log.record(connection, new)
    except KeyReused:
        raise ApiError(
            409,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        ) from None
    except SQLAlchemyError:
        log.exception("cannot record the command", extra={"event": "command.unrecorded"})
        raise ApiError(
            503,
            "unavailable",
            "the command could not be stored; try again shortly",
            headers={"Retry-After": "5"},
        ) from None
    if created:
        try:
            services.queue.enqueue_command(command.name, request_id, new.command_id)
        except Exception:
            # Stored but not sent: the sweeper will send it. The client still gets 202.
            log.warning("enqueue failed; the sweeper will retry", exc_info=True)
        else:
            # Counted in Redis too: skipped when Redis just failed, rather than wait on it twice.
            if services.metrics is not None:
                services.metrics.command_accepted(command.name)
        log.info(
            "command accepted",
            extra={
                "event": "command.accepted",
                "command": command.name,
                "path": request.path,
                "client": request.remote_addr,  # the client's, behind TRUSTED_PROXIES
            },
        )
    return record, created
