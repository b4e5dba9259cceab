"""The orderwire domain: pure Python, no Flask, Celery, SQLAlchemy or Redis.

`commands` say what someone wants done, `events` say what happened (past tense),
`order` and `notification` are the aggregates that decide, and `handlers` are the
plain functions that carry a command out against a unit of work (`ports`).
"""
