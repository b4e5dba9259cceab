"""Domain events: named in the past tense, carrying ids and values, never objects.

`data()` is the event's JSON-ready payload exactly as the contract's envelope
carries it (decimals as strings). Aggregates record events as `RecordedEvent`s,
which add the aggregate id and the aggregate's new version.
"""

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from domain.money import json_ready


@dataclass(frozen=True)
class Event:
    name = "Event"

    def data(self) -> dict[str, Any]:
        return {f.name: json_ready(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class OrderPlaced(Event):
    order_id: str
    customer_name: str
    lines: tuple[dict[str, Any], ...]
    total: Decimal
    name = "OrderPlaced"


@dataclass(frozen=True)
class OrderPaid(Event):
    order_id: str
    total: Decimal
    name = "OrderPaid"


@dataclass(frozen=True)
class OrderShipped(Event):
    order_id: str
    name = "OrderShipped"


@dataclass(frozen=True)
class OrderCancelled(Event):
    order_id: str
    reason: str
    name = "OrderCancelled"


@dataclass(frozen=True)
class NotificationCreated(Event):
    notification_id: str
    text: str
    name = "NotificationCreated"


@dataclass(frozen=True)
class CommandRejected(Event):
    """A business rule said no. `order_id` is None when the command names no order."""

    command: str
    code: str
    message: str
    order_id: str | None = None
    name = "CommandRejected"

    def data(self) -> dict[str, Any]:
        payload = super().data()
        if payload["order_id"] is None:
            del payload["order_id"]
        return payload


@dataclass(frozen=True)
class CommandFailed(Event):
    """The system gave up on a command after its retries (not a business decision)."""

    command: str
    code: str
    message: str
    name = "CommandFailed"


ORDER_EVENTS = (OrderPlaced, OrderPaid, OrderShipped, OrderCancelled)


@dataclass(frozen=True)
class RecordedEvent:
    """An event as its aggregate recorded it: which aggregate, and its version after it."""

    event: Event
    aggregate_id: str
    aggregate_version: int
