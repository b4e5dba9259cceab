"""Benchmarks: orderwire against bare Celery on the same machine and Redis (`make bench`).

`python -m bench` measures commands (throughput, POST-to-websocket latency, idempotent
replays) beside a no-op Celery baseline in the same run; `python -m bench fanout`
holds thousands of idle websockets on one web process and fans events out to them.
Results go to bench-results/ (JSON and a PNG); docs/benchmarks.md has the figures.
"""
