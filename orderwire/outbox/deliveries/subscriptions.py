"""Who gets which events after commit: the registry's table, turned around per subscriber.

The registry (orderwire/registry.py) maps an event type to its subscribers, which is how
a reader asks "what does OrderPaid set off?". Delivery works the other way round: each
subscriber has a position and reads the events of its types after it.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

Subscriber = Callable[[dict[str, Any], Connection], None]


@dataclass(frozen=True)
class Subscription:
    name: str  # the function's name: the key of its position and of its parked events
    handle: Subscriber
    types: frozenset[str]


def subscriptions_from(
    subscribers_by_type: Mapping[str, Sequence[Subscriber]],
) -> list[Subscription]:
    """One subscription per subscriber, with every event type it is registered for."""
    handlers: dict[str, Subscriber] = {}
    types: dict[str, set[str]] = {}
    for event_type, subscribers in subscribers_by_type.items():
        for subscriber in subscribers:
            name = subscriber.__name__
            if handlers.setdefault(name, subscriber) is not subscriber:
                raise ValueError(f"two after-commit subscribers are named {name!r}")
            types.setdefault(name, set()).add(event_type)
    return [Subscription(name, handlers[name], frozenset(types[name])) for name in sorted(handlers)]
