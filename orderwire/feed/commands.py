"""`orderwire feed ...` and `orderwire tail --group`: the operator's side of the feed."""

import argparse
import contextlib
import json
import sys
from collections.abc import Callable

from orderwire.config import Settings
from orderwire.redis_clients import redis_client


def add_tail_group_options(tail: argparse.ArgumentParser) -> None:
    tail.add_argument(
        "--group", help="read the durable feed as a consumer of this group (created if missing)"
    )
    tail.add_argument(
        "--from",
        dest="start",
        choices=("start", "now"),
        default=None,
        help="where a new group begins: the feed's oldest entry (default) or what comes next",
    )
    tail.add_argument("--consumer", help="this consumer's name in the group (default host-pid)")
    tail.add_argument(
        "--claim-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="take over entries another consumer left unacknowledged this long (default 60)",
    )


def group_options_without_group(args: argparse.Namespace) -> str | None:
    """The first --group-only option given without --group, if any (a mistake to report)."""
    given = {"--from": args.start, "--consumer": args.consumer, "--claim-after": args.claim_after}
    return next((name for name, value in given.items() if value is not None), None)


def run_tail_group(args: argparse.Namespace, settings: Settings) -> int:
    from orderwire.feed.tail import tail_group

    claim_after = 60.0 if args.claim_after is None else args.claim_after
    if claim_after <= 0:
        print("orderwire tail: --claim-after must be more than 0 seconds", file=sys.stderr)
        return 2
    client = redis_client(settings, socket_connect_timeout=2, socket_timeout=10)
    with contextlib.suppress(KeyboardInterrupt):
        tail_group(
            client,
            args.group,
            start="$" if args.start == "now" else "0",
            consumer=args.consumer,
            claim_after=claim_after,
            limit=args.limit,
        )
    return 0


def add_feed_parser(sub: argparse._SubParsersAction, settings: Callable[[], Settings]) -> None:
    feed = sub.add_parser("feed", help="the durable feed orderwire:events (docs/events.md)")
    actions = feed.add_subparsers(dest="feed_command", required=True)
    rebuild = actions.add_parser(
        "rebuild", help="re-append published events from the outbox to a feed Redis lost"
    )
    rebuild.add_argument(
        "--since", required=True, help="ISO 8601 time (UTC unless given) or a duration: 2h, 3d"
    )
    rebuild.set_defaults(func=lambda args: _rebuild(args, settings()))
    status = actions.add_parser("status", help="the feed's length and each group's backlog")
    status.set_defaults(func=lambda args: _status(settings()))
    parked = actions.add_parser("parked", help="events a group's handler kept failing on")
    parked.add_argument("--group", required=True)
    parked.set_defaults(func=lambda args: _parked(args, settings()))


def _rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from orderwire.db.engine import make_engine
    from orderwire.feed.rebuild import parse_since, rebuild_feed

    try:
        since = parse_since(args.since)
    except ValueError as error:
        print(f"orderwire feed rebuild: {error}", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    try:
        result = rebuild_feed(
            engine, redis_client(settings), since, maxlen=settings.feed_maxlen
        )
    finally:
        engine.dispose()
    print(
        f"orderwire feed rebuild: appended {result.appended} events published since "
        f"{since.isoformat()}; {result.already_there} were still in the feed"
    )
    return 0


def _status(settings: Settings) -> int:
    from orderwire.feed.groups import read_feed_state

    state = read_feed_state(redis_client(settings))
    print(
        json.dumps(
            {
                "entries": state.length,
                "maxlen": settings.feed_maxlen,
                "groups": [vars(group) | {"behind": group.behind} for group in state.groups],
            },
            indent=2,
        )
    )
    return 0


def _parked(args: argparse.Namespace, settings: Settings) -> int:
    from orderwire.feed.consumer import parked

    for item in parked(redis_client(settings), args.group, count=10_000):
        print(json.dumps(item, ensure_ascii=False))
    return 0
