"""The worker process's orderwire, bootstrapped on first use, i.e. after Celery forked the
child: engines and connections are never shared across a fork."""

import os

from orderwire.bootstrap import Orderwire, bootstrap

_orderwire: Orderwire | None = None
_pid: int | None = None


def current() -> Orderwire:
    global _orderwire, _pid
    if _orderwire is None or _pid != os.getpid():
        _orderwire, _pid = bootstrap(), os.getpid()
    return _orderwire
