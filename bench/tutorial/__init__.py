"""The tutorial implementation of orderwire's job, the second baseline of `make bench`.

What a Flask + Celery tutorial builds: POST /api/orders validates with marshmallow and
calls `place_order.delay(data)`; the task inserts the order and its lines in one
transaction and PUBLISHes an `OrderPlaced` JSON to the session's channel; `/ws`
subscribes to that channel per connection. No command log, no idempotency, no outbox:
it is the price of the job without orderwire's guarantees (docs/benchmarks.md).

It runs on the same packages and settings as orderwire: gunicorn with gevent
(`orderwire.gunicorn_conf`), Celery prefork with orderwire's `create_celery` configuration
(acks_late, prefetch 1, task events on), SQLite in WAL mode or PostgreSQL through
orderwire's `make_engine`, and Flower.
"""
