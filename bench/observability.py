"""What observability costs: `python -m bench.observability [--rows N] [--postgres URL]`.

- a `/metrics` scrape against a database holding N finished commands and N events
  (SQLite, and PostgreSQL when a URL is given): it should not grow with N;
- recording a command's metrics in Redis (per accepted and per finished command);
- one `event.delivered` log line (per event frame and websocket).

Figures are quoted in docs/operations.md.
"""

import argparse
import json
import logging
import statistics
import tempfile
import time
import timeit
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import redis
from sqlalchemy import Engine, text

from bench.preload import seed
from orderwire.bootstrap import bootstrap
from orderwire.config import Settings
from orderwire.db.engine import make_engine
from orderwire.db.tables import metadata
from orderwire.local_redis import PrivateRedis
from orderwire.logs import configure_logging
from orderwire.metrics import MetricsRecorder
from web import create_app
from web.live.delivery_log import log_delivered


def scrape_ms(database_url: str, engine: Engine, redis_url: str) -> tuple[float, float]:
    settings = Settings.from_env(
        {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "ORDERWIRE_ENV": "test"}
    )
    client = create_app(settings, services=bootstrap(settings, engine=engine)).test_client()
    client.get("/metrics")  # the first scrape builds the registry
    samples = []
    for _ in range(20):
        started = time.perf_counter()
        assert client.get("/metrics").status_code == 200
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def per_call_us(action: Callable[[], object], number: int = 2000) -> float:
    return timeit.timeit(action, number=number) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL to measure on as well")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-observability-"))
    with PrivateRedis(workdir / "redis") as server:
        targets: list[tuple[str, str, str | None]] = [
            ("sqlite", f"sqlite:///{workdir / 'bench.db'}", None)
        ]
        if args.postgres:
            private = f"bench_{uuid.uuid4().hex[:8]}"
            targets.append(
                ("postgresql", f"{args.postgres}?options=-csearch_path%3D{private}", private)
            )
        for name, url, schema in targets:
            if schema:
                with make_engine(args.postgres).begin() as connection:
                    connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine = make_engine(url)
            metadata.create_all(engine)
            seed(engine, args.rows, with_orders=False)
            if schema:
                with engine.begin() as connection:
                    connection.execute(text("ANALYZE"))
            median, worst = scrape_ms(url, engine, server.url)
            print(f"/metrics scrape, {name}, {args.rows} commands + {args.rows} events: "
                  f"median {median:.1f} ms, max {worst:.1f} ms")
            engine.dispose()
            if schema:
                with make_engine(args.postgres).begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))

        recorder = MetricsRecorder(redis.Redis.from_url(server.url))
        now = datetime.now(UTC)
        finished = per_call_us(lambda: recorder.command_finished(
            "PlaceOrder", "succeeded", execution_seconds=0.02, accepted_at=now))
        accepted = per_call_us(lambda: recorder.command_accepted("PlaceOrder"))
        print(f"recording: {accepted:.0f} us per accepted command, "
              f"{finished:.0f} us per finished command")

    configure_logging("INFO", process="bench")
    [handler] = [h for h in logging.getLogger().handlers if getattr(h, "_orderwire", False)]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open("/dev/null", "w"))  # noqa: SIM115 - lives as long as the process
    envelope = {"id": str(uuid.uuid4()), "type": "OrderPlaced", "version": 1,
                "occurred_at": "2026-11-23T10:00:00.123Z", "request_id": str(uuid.uuid4()),
                "aggregate_id": str(uuid.uuid4()), "aggregate_version": 1,
                "data": {"order_id": str(uuid.uuid4()), "customer_name": "Ada Lovelace",
                         "lines": [{"product": "engine", "quantity": 1, "unit_price": "9.90"}],
                         "total": "9.90"}}
    frame = json.dumps({"kind": "event", "event": envelope})
    print(f"event.delivered log line: {per_call_us(lambda: log_delivered(frame), 20_000):.0f} us "
          f"per frame ({len(frame)} bytes)")


if __name__ == "__main__":
    main()
