"""orderwire's application core and infrastructure, shared by `web/` and `worker/`.

- `config`: settings from the environment, validated at start-up
- `bootstrap`: the one place where engines, clients and the bus are wired
- `bus`, `registry`, `pipeline/`: commands through their behaviours to the handlers
- `db/`: SQLAlchemy tables, repositories, unit of work, command log, retention
- `outbox/`: everything "after commit": the envelope, the outbox store, publishing to
  Redis, the relay
"""
