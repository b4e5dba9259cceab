"""Discarding parked deliveries: the operator decided that a subscriber will never apply them.

A parked delivery stays parked until it is re-driven or discarded. Discarding is for an
event that can never be applied: its subscriber was removed from the code, or it refuses
the event for good reason. It is the only way to give a delivery up, and it is never
silent: the delivery moves to `discarded_deliveries` with the reason, in one transaction,
a WARNING line says so, and `orderwire deliveries discarded` lists them.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from orderwire.db.engine import read_only
from orderwire.outbox.deliveries import store
from orderwire.outbox.deliveries.store import Discarded, Parked

log = logging.getLogger("orderwire.deliveries")

MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class Discarding:
    subscriber: str
    event_id: str
    outcome: str  # "discarded", or "gone" (no longer parked: re-driven or discarded meanwhile)


def reason_problem(reason: str) -> str | None:
    """Why a reason cannot be recorded, or None: it is what the next operator reads."""
    if not reason.strip():
        return "--reason must say why (it is recorded with the discarded delivery)"
    if len(reason) > MAX_REASON_LENGTH:
        return f"--reason is {len(reason)} characters; at most {MAX_REASON_LENGTH}"
    return None


def discard(engine: Engine, parked: Sequence[Parked], reason: str) -> list[Discarding]:
    results = []
    for delivery in parked:
        with engine.connect() as connection, connection.begin():
            done = store.discard(connection, delivery.subscriber, delivery.event_id, reason)
        if done:
            log.warning("discarded %s for %s: %s", delivery.event_id, delivery.subscriber,
                        reason, extra={"event": "delivery.discarded",
                                       "event_id": delivery.event_id,
                                       "subscriber": delivery.subscriber})
        results.append(Discarding(delivery.subscriber, delivery.event_id,
                                  "discarded" if done else "gone"))
    return results


def find_discarded(engine: Engine, *, subscriber: str | None = None) -> list[Discarded]:
    with read_only(engine).connect() as connection, connection.begin():
        return store.discarded(connection, subscriber=subscriber)
