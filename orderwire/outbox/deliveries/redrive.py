"""Re-driving parked deliveries: the operator fixed the cause, now apply them again.

Each parked delivery is applied in one transaction with the removal of its parked row, so
it is applied at most once even if two operators re-drive it at the same moment (the
second finds no row to remove and does nothing). A re-drive that fails again leaves the
row parked, with one attempt more and the new error.
"""

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from orderwire.db.engine import read_only
from orderwire.logs import request_id_var
from orderwire.outbox.deliveries import store
from orderwire.outbox.deliveries.store import Parked, error_text
from orderwire.outbox.deliveries.subscriptions import Subscription

log = logging.getLogger("orderwire.deliveries")


@dataclass(frozen=True)
class Redriven:
    subscriber: str
    event_id: str
    outcome: str  # "handled", "failed", "gone" (no longer parked) or "unknown subscriber"
    error: str | None = None


def find_parked(
    engine: Engine, *, event_id: str | None = None, subscriber: str | None = None
) -> list[Parked]:
    with read_only(engine).connect() as connection, connection.begin():
        return store.parked(connection, subscriber=subscriber, event_id=event_id)


def redrive(
    engine: Engine, subscriptions: Sequence[Subscription], parked: Sequence[Parked]
) -> list[Redriven]:
    by_name = {subscription.name: subscription for subscription in subscriptions}
    results = []
    for delivery in parked:
        subscription = by_name.get(delivery.subscriber)
        if subscription is None:
            # Parked for a subscriber the code no longer has: nothing can apply it.
            results.append(Redriven(delivery.subscriber, delivery.event_id, "unknown subscriber"))
            continue
        results.append(_redrive_one(engine, subscription, delivery.event_id))
    return results


def _redrive_one(engine: Engine, subscription: Subscription, event_id: str) -> Redriven:
    try:
        with engine.connect() as connection, connection.begin():
            if not store.unpark(connection, subscription.name, event_id):
                return Redriven(subscription.name, event_id, "gone")
            stored = store.load_envelope(connection, event_id)
            if stored is None:
                raise LookupError(f"event {event_id} is no longer in the outbox")
            envelope = json.loads(stored)
            token = request_id_var.set(envelope.get("request_id"))
            try:
                subscription.handle(envelope, connection)
            finally:
                request_id_var.reset(token)
    except Exception as error:
        with engine.connect() as connection, connection.begin():
            store.record_redrive_failure(connection, subscription.name, event_id,
                                         error_text(error))
        log.warning("re-driving %s to %s failed", event_id, subscription.name, exc_info=True,
                    extra={"event": "delivery.redrive_failed", "event_id": event_id,
                           "subscriber": subscription.name})
        return Redriven(subscription.name, event_id, "failed", error_text(error))
    log.info("re-drove %s to %s", event_id, subscription.name,
             extra={"event": "delivery.redriven", "event_id": event_id,
                    "subscriber": subscription.name})
    return Redriven(subscription.name, event_id, "handled")
