"""Keeping `make run`'s processes up: each child in its own process group (`child`),
restarted with backoff when it dies or fails its liveness probe (`supervisor`), and,
under `make dev`, restarted when the code changes (`reloader`)."""
