"""After commit, in one place: the event envelope (`envelope`), the outbox table's statements
(`store`), publishing to Redis (`publisher`, `keys`) and the relay (`relay`), which marks
and publishes what the workers' fast path left, in commit order per order."""
