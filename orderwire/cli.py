"""The `orderwire` command: run, dev, migrate, relay, flower, tail, feed, deliveries,
worker-alive, check-config."""

import argparse
import contextlib
import os
import sys
from pathlib import Path

from orderwire import worker_liveness
from orderwire.config import ConfigError, Settings, safe_url
from orderwire.env_file import EnvFileError, merge_env_file
from orderwire.feed.commands import (
    add_feed_parser,
    add_tail_group_options,
    group_options_without_group,
)
from orderwire.outbox.deliveries.commands import add_deliveries_parser


def _read_env_file() -> None:
    """Read ./.env as `make run` does, so `orderwire tail`, `deliveries`, `feed` and `migrate`
    find the database, the var folder and the Redis that `make run` uses. The environment
    still wins, so a process `make run` or honcho started (which read the file for it) takes
    nothing more from it; a name this command did take is named on stderr, never its value."""
    try:
        merged, report = merge_env_file(os.environ, Path.cwd() / ".env")
    except EnvFileError as error:
        print(f"orderwire: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if report.loaded:
        os.environ.update(merged)
        print(f"orderwire: from {report.path}: {', '.join(report.loaded)}", file=sys.stderr)


def _find_private_redis() -> None:
    """Without REDIS_URL, use the private Redis of a running `make run` (var/redis-url),
    for this process and those it starts (Flower)."""
    from orderwire import private_redis_address
    from orderwire.config import var_dir

    if os.environ.get("REDIS_URL"):
        return
    found = private_redis_address.recorded(var_dir())
    if found is None:
        return
    if found.answering:
        os.environ["REDIS_URL"] = found.url
        print(f"orderwire: REDIS_URL unset; using make run's Redis from {found.path}",
              file=sys.stderr)
    else:
        print(f"orderwire: ignoring {found.path}: nothing answers at {found.url} "
              "(make run is not running)", file=sys.stderr)


def _settings() -> Settings:
    _read_env_file()
    _find_private_redis()
    try:
        return Settings.from_env()
    except ConfigError as error:
        print(f"orderwire: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_run(_args: argparse.Namespace) -> int:
    from orderwire.launcher import run

    return run()


def cmd_dev(_args: argparse.Namespace) -> int:
    from orderwire.launcher import run

    return run(reload=True)


def cmd_migrate(args: argparse.Namespace) -> int:
    from orderwire.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url, args.revision)
    print(f"orderwire: {safe_url(settings.database_url)} is at {args.revision}")
    return 0


def cmd_relay(_args: argparse.Namespace) -> int:
    from orderwire.bootstrap import bootstrap
    from orderwire.logs import configure_logging
    from orderwire.relay_process import run_relay

    settings = _settings()
    configure_logging(settings.log_level, process="relay")
    run_relay(bootstrap(settings))
    return 0


def cmd_flower(_args: argparse.Namespace) -> int:
    settings = _settings()
    if not settings.flower_basic_auth:
        problem = "FLOWER_BASIC_AUTH: Flower never runs without credentials (user:password)"
        print(f"orderwire: configuration error: {problem}", file=sys.stderr)
        return 2
    argv = [
        "celery", "--app", "worker.flower_app", "flower",
        f"--port={settings.flower_port}",
        f"--address={os.environ.get('FLOWER_ADDRESS', '127.0.0.1')}",
        # The credentials stay in FLOWER_BASIC_AUTH, which Flower reads itself: on the
        # command line `ps` would show them.
        # Flower's own persistence is not needed: the command log is the record.
        "--persistent=False",
        # The task table at 1280 px: what an operator scans (state, runtime) next to the
        # name, the id last, since a request id may be 128 characters; args (the id
        # again) and kwargs (always {}) are left out (docs/operations.md, "Flower").
        "--tasks_columns=name,state,runtime,received,worker,uuid",
    ]
    os.execvp("celery", argv)
    return 0  # pragma: no cover - exec does not return


def cmd_tail(args: argparse.Namespace) -> int:
    if args.group:
        from orderwire.feed.commands import run_tail_group

        return run_tail_group(args, _settings())
    if stray := group_options_without_group(args):
        print(f"orderwire tail: {stray} needs --group (the durable feed)", file=sys.stderr)
        return 2

    from orderwire.redis_clients import redis_client
    from orderwire.tail import tail

    with contextlib.suppress(KeyboardInterrupt):
        # No socket timeout: a quiet system sends nothing for a long time, and that is fine.
        client = redis_client(_settings(), socket_timeout=None, health_check_interval=0)
        tail(client, limit=args.limit)
    return 0


def cmd_worker_alive(args: argparse.Namespace) -> int:
    import socket

    import redis

    from orderwire.redis_clients import redis_client

    node = args.node or f"worker@{socket.gethostname()}"
    settings = _settings()
    within = args.within or worker_liveness.window(settings.worker_probe_seconds)
    client = redis_client(settings, socket_timeout=3)
    try:
        age = worker_liveness.seconds_since_consumed(client, node)
    except redis.RedisError as error:
        print(f"orderwire: {node}: cannot read Redis ({type(error).__name__})", file=sys.stderr)
        return 1
    finally:
        client.close()
    if age is None or age > within:
        print(f"orderwire: {node} has consumed nothing in the last {within:g} s",
              file=sys.stderr)
        return 1
    print(f"orderwire: {node} consumed {age:.1f} s ago")
    return 0


def cmd_check_config(_args: argparse.Namespace) -> int:
    settings = _settings()
    print(f"orderwire: configuration is valid ({settings.environment})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orderwire", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start every Procfile process (what `make run` does)").set_defaults(
        func=cmd_run
    )
    sub.add_parser("dev", help="`run` with restarts on code changes (`make dev`)").set_defaults(
        func=cmd_dev
    )
    migrate = sub.add_parser("migrate", help="migrate DATABASE_URL (default: to head)")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(func=cmd_migrate)
    sub.add_parser(
        "relay", help="publish the outbox, deliver to after-commit subscribers, sweep commands"
    ).set_defaults(func=cmd_relay)
    sub.add_parser("flower", help="Flower, always behind FLOWER_BASIC_AUTH").set_defaults(
        func=cmd_flower
    )
    add_feed_parser(sub, _settings)
    add_deliveries_parser(sub, _settings)
    tail = sub.add_parser("tail", help="print every event (PSUBSCRIBE orderwire.events.*)")
    tail.add_argument("--limit", type=int, default=None)
    add_tail_group_options(tail)
    tail.set_defaults(func=cmd_tail)
    alive = sub.add_parser(
        "worker-alive",
        help="exit 0 if the Celery worker consumed from the broker recently (a healthcheck)",
    )
    alive.add_argument("--node", help="the worker's node name (default: worker@<hostname>)")
    alive.add_argument(
        "--within", type=float, default=None,
        help="seconds (default: 6 probe intervals, i.e. 30 with ORDERWIRE_WORKER_PROBE_SECONDS=5)",
    )
    alive.set_defaults(func=cmd_worker_alive)
    sub.add_parser("check-config", help="validate the environment and exit").set_defaults(
        func=cmd_check_config
    )
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
