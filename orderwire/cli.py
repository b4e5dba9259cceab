"""The `orderwire` command: run, migrate, relay, flower, tail, check-config."""

import argparse
import contextlib
import os
import sys

from orderwire.config import ConfigError, Settings, safe_url


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        print(f"orderwire: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_run(_args: argparse.Namespace) -> int:
    from orderwire.launcher import run

    return run()


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
        "celery", "--app", "worker.celery_app", "flower",
        f"--port={settings.flower_port}",
        f"--address={os.environ.get('FLOWER_ADDRESS', '127.0.0.1')}",
        # The credentials stay in FLOWER_BASIC_AUTH, which Flower reads itself: on the
        # command line `ps` would show them.
        # Flower's own persistence is not needed: the command log is the record.
        "--persistent=False",
    ]
    os.execvp("celery", argv)
    return 0  # pragma: no cover - exec does not return


def cmd_tail(args: argparse.Namespace) -> int:
    from orderwire.redis_clients import redis_client
    from orderwire.tail import tail

    with contextlib.suppress(KeyboardInterrupt):
        # No socket timeout: a quiet system sends nothing for a long time, and that is fine.
        client = redis_client(_settings(), socket_timeout=None, health_check_interval=0)
        tail(client, limit=args.limit)
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
    migrate = sub.add_parser("migrate", help="migrate DATABASE_URL (default: to head)")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(func=cmd_migrate)
    sub.add_parser("relay", help="publish the outbox and sweep stale commands").set_defaults(
        func=cmd_relay
    )
    sub.add_parser("flower", help="Flower, always behind FLOWER_BASIC_AUTH").set_defaults(
        func=cmd_flower
    )
    tail = sub.add_parser("tail", help="print every event (PSUBSCRIBE orderwire.events.*)")
    tail.add_argument("--limit", type=int, default=None)
    tail.set_defaults(func=cmd_tail)
    sub.add_parser("check-config", help="validate the environment and exit").set_defaults(
        func=cmd_check_config
    )
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
