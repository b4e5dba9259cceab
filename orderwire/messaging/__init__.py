"""Events leaving the database: envelopes, Redis publishing, the outbox relay, the sweeper."""
