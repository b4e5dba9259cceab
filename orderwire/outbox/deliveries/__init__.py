"""After-commit subscribers, delivered from the outbox by the relay process, in batches.

Each subscriber keeps its own position in the events table (`subscriber_positions`):
`subscriptions` says who gets which event types, `settled` which events a subscriber may
pass without skipping one that commits late, `store` the statements, `delivery` the
relay's job (apply each event with the position's advance in one transaction; retry a
failing one with backoff; park it after `max_attempts`), `redrive` the operator's way to
apply a parked event again, `status` how each subscriber is doing, `metrics` the gauges
on `GET /metrics` and `commands` the `orderwire deliveries` CLI. docs/events.md, section
2, tells the whole story.
"""
