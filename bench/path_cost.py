"""CPU of the command path in one process: the web's POST /api/orders and the worker's pipeline.

`PYTHONPATH=$PWD .venv/bin/python bench/path_cost.py` starts a private Redis and uses
SQLite in a temporary directory (or the database `DATABASE_URL` names; its missing tables
are created), then measures, in rounds of `--commands`:

- *post*: `POST /api/orders` through Flask's test client (validation, the command log's
  insert, `send_task` to the real Redis broker, the 202), CPU time per request;
- *pipeline*: PlaceOrders recorded as the web records them, then run by
  `Orderwire.execute` as a pool process runs them (the attempt count, the transaction,
  the fast-path publish), CPU time per command.

No processes, no load generator, no other side: the numbers move with the machine far
less than `python -m bench commands`, so two versions of the code compare here, run
alternately (point PYTHONPATH at each checkout). Medians of the rounds.
"""

import argparse
import logging
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ORDER = {
    "customer_name": "Bench",
    "lines": [{"product": "tea", "quantity": 2, "unit_price": "1.25"}],
}


def per_call_ms(action: Callable[[], object], calls: int, rounds: int) -> list[float]:
    results = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            action()
        results.append((time.process_time() - started) / calls * 1000)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=300, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from orderwire.local_redis import PrivateRedis

    workdir = Path(tempfile.mkdtemp(prefix="orderwire-path-cost-"))
    redis_server = PrivateRedis(workdir / "redis")
    redis_server.start()
    try:
        database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir / 'bench.db'}"
        os.environ.update({
            "REDIS_URL": redis_server.url, "DATABASE_URL": database_url,
            "ORDERWIRE_ENV": "test", "ORDERWIRE_RATE_LIMIT": "off",
            "SECRET_KEY": "path-cost-bench-only-" + uuid.uuid4().hex,
        })
        for name, results in measure(database_url, args.commands, args.rounds).items():
            print(f"{name:9s} CPU ms per command: median {statistics.median(results):.3f} "
                  f"(rounds {', '.join(f'{r:.3f}' for r in results)})")
    finally:
        redis_server.stop()


def measure(database_url: str, commands: int, rounds: int) -> dict[str, list[float]]:
    from orderwire.bootstrap import bootstrap
    from orderwire.config import Settings
    from orderwire.db import command_log
    from orderwire.db.engine import make_engine
    from orderwire.db.tables import metadata
    from web import create_app

    engine = make_engine(database_url)
    metadata.create_all(engine)
    settings = Settings.from_env()
    app = create_app(settings)
    services = bootstrap(settings, engine=engine)
    # Lines are formatted and written as in production, to a sink instead of the terminal.
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process

    client = app.test_client()
    client.get("/api/orders")  # the session cookie

    def post() -> None:
        key = {"Idempotency-Key": str(uuid.uuid4())}
        answer = client.post("/api/orders", json=ORDER, headers=key)
        assert answer.status_code == 202, answer.get_data(as_text=True)

    def recorded() -> str:
        order_id = str(uuid.uuid4())
        new = command_log.NewCommand(
            request_id=str(uuid.uuid4()), command="PlaceOrder",
            payload={**ORDER, "order_id": order_id}, fingerprint=uuid.uuid4().hex,
            session_id="path-cost", order_id=order_id,
        )
        with engine.begin() as connection:
            command_log.record(connection, new)
        return new.command_id

    pipeline = []
    for _ in range(rounds):
        waiting = [recorded() for _ in range(commands)]
        pipeline.extend(per_call_ms(partial(_run_next, services, waiting), commands, 1))
    return {"post": per_call_ms(post, commands, rounds), "pipeline": pipeline}


def _run_next(services: Any, waiting: list[str]) -> None:
    services.execute(waiting.pop())


if __name__ == "__main__":
    main()
