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
        "deliveries", help="after-commit subscribers: positions, parked events, re-drive"
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
    which = redrive.add_mutually_exclusive_group(required=True)
    which.add_argument("event_id", nargs="?", help="the parked event to apply again")
    which.add_argument("--all", action="store_true", help="every parked event")
    redrive.add_argument("--subscriber", help="only this subscriber's")
    redrive.set_defaults(func=lambda args: _run(settings(), _redrive, args))


def _run(settings: Settings, action: Callable[..., int], args: argparse.Namespace) -> int:
    from orderwire import registry
    from orderwire.db.engine import make_engine
    from orderwire.outbox.deliveries.subscriptions import subscriptions_from

    subscriptions = subscriptions_from(registry.AFTER_COMMIT_SUBSCRIBERS)
    names = {subscription.name for subscription in subscriptions}
    if getattr(args, "subscriber", None) not in (None, *names):
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
        what = "nothing is parked" if args.all else f"event {args.event_id} is not parked"
        scope = f" for {args.subscriber}" if args.subscriber else ""
        print(f"orderwire deliveries redrive: {what}{scope}", file=sys.stderr)
        return 0 if args.all else 2
    results = redrive(engine, subscriptions, parked)
    for result in results:
        print(json.dumps(vars(result), ensure_ascii=False))
    return 0 if all(result.outcome in ("handled", "gone") for result in results) else 1


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in values.items()
    }
