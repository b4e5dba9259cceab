"""After commit, in one place: the event envelope (`envelope`), the outbox table's statements
(`store`), publishing to Redis (`publisher`, `keys`), the relay (`relay`), which marks
and publishes what the workers' fast path left, in commit order per order, and the
after-commit subscribers' delivery from the outbox (`deliveries`)."""
