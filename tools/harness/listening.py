"""A subscriber like any other service's: `PSUBSCRIBE orderwire.events.*`, keeping every
envelope it receives, duplicates included, so tests can check order and at-least-once."""

import json
import time
from typing import Any

import redis


class PatternListener:
    """`PSUBSCRIBE orderwire.events.*`, collecting every envelope (duplicates included)."""

    def __init__(self, client: redis.Redis) -> None:
        self.pubsub = client.pubsub()
        self.pubsub.psubscribe("orderwire.events.*")
        confirmed = self.pubsub.get_message(timeout=5)
        assert confirmed and confirmed["type"] == "psubscribe", confirmed
        self.received: list[dict[str, Any]] = []

    def drain(self, seconds: float = 0.0) -> list[dict[str, Any]]:
        """Read what has arrived, waiting up to `seconds` for the first new message."""
        deadline = time.monotonic() + seconds
        while True:
            message = self.pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if message is None:
                if time.monotonic() >= deadline:
                    return self.received
                continue
            if message["type"] == "pmessage":
                self.received.append(json.loads(message["data"]))

    def ids(self) -> list[str]:
        return [envelope["id"] for envelope in self.received]

    def wait_for_ids(self, wanted: set[str], timeout: float = 15) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while not wanted <= set(self.ids()):
            if time.monotonic() > deadline:
                raise AssertionError(f"missing {wanted - set(self.ids())}; got {self.ids()}")
            self.drain(0.2)
        return self.received

    def wait_for_copies(self, wanted: set[str], copies: int, timeout: float = 15) -> None:
        """Until each wanted id has arrived `copies` times (at least once means maybe more)."""
        deadline = time.monotonic() + timeout
        while any(self.ids().count(event_id) < copies for event_id in wanted):
            if time.monotonic() > deadline:
                counts = {event_id: self.ids().count(event_id) for event_id in wanted}
                raise AssertionError(f"wanted {copies} copies of each; got {counts}")
            self.drain(0.2)

    def close(self) -> None:
        self.pubsub.close()
