"""`make dev`: restart the Python processes when the code they run changes.

One watcher (watchfiles, which uses inotify where it can) for the whole tree, and
restarts through the supervisor, so a reload is the same clean stop and start as any
other (gunicorn's `--reload` would reload only the web, and Celery has none).
"""

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from orderwire.supervision.supervisor import Supervisor

# Templates are read once per process, so a changed page needs a restart too.
WATCHED_EXTENSIONS = (".html",)


def watch_and_restart(
    supervisor: Supervisor,
    paths: Sequence[Path],
    names: Iterable[str],
    stop: threading.Event,
) -> threading.Thread:
    """Start a thread that asks `supervisor` to restart `names` after each change (a burst
    of changes, e.g. a branch switch, is one restart); it ends when `stop` is set."""
    from watchfiles import PythonFilter, watch

    names = tuple(names)
    root = Path.cwd()

    def shown(path: str) -> str:
        try:
            return str(Path(path).relative_to(root))
        except ValueError:
            return path

    def loop() -> None:
        watched = watch(
            *paths,
            watch_filter=PythonFilter(extra_extensions=WATCHED_EXTENSIONS),
            stop_event=stop,
            raise_interrupt=False,
        )
        for changes in watched:
            changed = sorted({shown(path) for _, path in changes})
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            supervisor.request_restart(names, f"{', '.join(changed[:3])}{more} changed")

    thread = threading.Thread(target=loop, name="reloader", daemon=True)
    thread.start()
    return thread
