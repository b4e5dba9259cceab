"""`orderwire deliveries ...`: the operator's side of after-commit subscriber delivery."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orderwire.config import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from orderwire.outbox.deliveries.subscriptions import Subscription


def add_deliveries_parser(
    sub: argparse._SubParsersAction, settings: Callable[[], Settings]
) -> None:
    deliveries = sub.add_parser(
        "deliveries",
        help="after-commit subscribers: positions, parked events, re-drive, discard",
    )
    actions = deliveries.add_subparsers(dest="deliveries_command", required=True)
    status = actions.add_parser("status", help="each subscriber's position, lag and failures")
    status.set_defaults(func=lambda args: _run(settings(), _status, args))
    parked = actions.add_parser("parked", help="events a subscriber kept failing on, and why")
    parked.add_argument("--subscriber", help="only this subscriber's")
    parked.set_defaults(func=lambda args: _run(settings(), _parked, args))
    redrive = actions.add_parser(
        "redrive", help="apply parked events again; each leaves the parked list once it succeeds"
    )
    _parked_events_to(redrive, "apply again", all_help="every parked event")
    redrive.set_defaults(func=lambda args: _run(settings(), _redrive, args))
    discard = actions.add_parser(
        "discard", help="give parked events up for good, saying why (the reason is recorded)"
    )
    # --subscriber takes any name: the subscriber of events that can never be applied may
    # be gone from the code.
    _parked_events_to(discard, "give up", all_help="every parked event of --subscriber")
    discard.add_argument("--reason", required=True, help="why; kept with the record")
    discard.set_defaults(func=lambda args: _run(settings(), _discard, args, known_only=False))
    discarded = actions.add_parser("discarded", help="what was given up, when and why")
    discarded.add_argument("--subscriber", help="only this subscriber's")
    discarded.set_defaults(
        func=lambda args: _run(settings(), _discarded, args, known_only=False)
    )


def _parked_events_to(command: argparse.ArgumentParser, verb: str, *, all_help: str) -> None:
    """Which parked events a command takes: one by id, or --all, and --subscriber."""
    which = command.add_mutually_exclusive_group(required=True)
    which.add_argument("event_id", nargs="?", help=f"the parked event to {verb}")
    which.add_argument("--all", action="store_true", help=all_help)
    command.add_argument("--subscriber", help="only this subscriber's")


def _run(
    settings: Settings,
    action: Callable[..., int],
    args: argparse.Namespace,
    *,
    known_only: bool = True,
) -> int:
    from orderwire import registry
    from orderwire.db.engine import make_engine
    from orderwire.outbox.deliveries.subscriptions import subscriptions_from

    subscriptions = subscriptions_from(registry.AFTER_COMMIT_SUBSCRIBERS)
    names = {subscription.name for subscription in subscriptions}
    if known_only and getattr(args, "subscriber", None) not in (None, *names):
        known = ", ".join(sorted(names)) or "none"
        print(f"orderwire deliveries: no subscriber named {args.subscriber!r} (known: {known})",
              file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    try:
        return action(engine, subscriptions, args)
    finally:
        engine.dispose()


def _status(engine: Engine, subscriptions: list[Subscription], _args: argparse.Namespace) -> int:
    from orderwire.outbox.deliveries.status import subscriber_status

    found = subscriber_status(engine, subscriptions)
    print(json.dumps({"subscribers": [_jsonable(vars(status)) for status in found]}, indent=2))
    return 0


def _parked(engine: Engine, _subscriptions: list[Subscription], args: argparse.Namespace) -> int:
    from orderwire.outbox.deliveries.redrive import find_parked

    for delivery in find_parked(engine, subscriber=args.subscriber):
        print(json.dumps(_jsonable(vars(delivery)), ensure_ascii=False))
    return 0


def _redrive(engine: Engine, subscriptions: list[Subscription], args: argparse.Namespace) -> int:
    from orderwire.outbox.deliveries.redrive import find_parked, redrive

    parked = find_parked(engine, event_id=args.event_id, subscriber=args.subscriber)
    if not parked:
        return _nothing_parked("redrive", args)
    results = redrive(engine, subscriptions, parked)
    for result in results:
        print(json.dumps(vars(result), ensure_ascii=False))
    return 0 if all(result.outcome in ("handled", "gone") for result in results) else 1


def _nothing_parked(command: str, args: argparse.Namespace) -> int:
    """Said on stderr; an error only when one event was named (`--all` found nothing to do)."""
    what = "nothing is parked" if args.all else f"event {args.event_id} is not parked"
    scope = f" for {args.subscriber}" if args.subscriber else ""
    print(f"orderwire deliveries {command}: {what}{scope}", file=sys.stderr)
    return 0 if args.all else 2


def _discard(engine: Engine, _subscriptions: list[Subscription], args: argparse.Namespace) -> int:
    from orderwire.outbox.deliveries.discard import discard, reason_problem
    from orderwire.outbox.deliveries.redrive import find_parked

    problem = reason_problem(args.reason)
    if args.all and not args.subscriber:
        problem = "--all needs --subscriber: give up one subscriber's events at a time"
    if problem:
        print(f"orderwire deliveries discard: {problem}", file=sys.stderr)
        return 2
    parked = find_parked(engine, event_id=args.event_id, subscriber=args.subscriber)
    if not parked:
        return _nothing_parked("discard", args)
    for result in discard(engine, parked, args.reason):
        print(json.dumps(vars(result), ensure_ascii=False))
    return 0


def _discarded(
    engine: Engine, _subscriptions: list[Subscription], args: argparse.Namespace
) -> int:
    from orderwire.outbox.deliveries.discard import find_discarded

    for delivery in find_discarded(engine, subscriber=args.subscriber):
        print(json.dumps(_jsonable(vars(delivery)), ensure_ascii=False))
    return 0


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in values.items()
    }
