"""Named fault-injection points, for the failure tests and `make chaos`.

Off unless ORDERWIRE_FAULTS is set, and refused in production. The value is a
comma-separated list of `point=action`, where action is one of:

- `crash`: the process dies at once (os._exit), as under SIGKILL: no cleanup, no commit;
- `sleep:SECONDS`: pause there (a window for a test to kill the process);
- `raise`: raise InjectedFault (a transient failure the pipeline retries).

Points: `transaction.before_commit` (a command's effect is written, not committed),
`transaction.after_commit` (committed, its events not yet published by the fast path),
`relay.after_publish` (events are on Redis, not yet marked published),
`handler.start` (a command's transaction is open, the handler not yet run),
`subscriber.before` (an after-commit subscriber is about to run on one event; its
position is moved onto that event, not committed), `subscriber.after` (the subscriber's
effect is written too, not committed).
"""

import logging
import os
import time

ENV = "ORDERWIRE_FAULTS"

log = logging.getLogger("orderwire.faults")


class InjectedFault(Exception):
    """A failure injected on purpose (treated as transient)."""


def _configured() -> dict[str, str]:
    raw = os.environ.get(ENV, "")
    if not raw or os.environ.get("ORDERWIRE_ENV") == "production":
        return {}
    points = {}
    for item in raw.split(","):
        point, _, action = item.strip().partition("=")
        if point:
            points[point] = action
    return points


def fault_point(name: str) -> None:
    action = _configured().get(name)
    if not action:
        return
    # Logged first, so a test can tell the process has reached the point (then kill it there).
    log.warning("fault injected: %s=%s", name, action, extra={"event": "fault.injected"})
    if action == "crash":
        os._exit(137)
    if action.startswith("sleep:"):
        time.sleep(float(action.split(":", 1)[1]))
    elif action == "raise":
        raise InjectedFault(name)
