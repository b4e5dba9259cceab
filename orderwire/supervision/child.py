"""One supervised process: started in a session (and process group) of its own, its output
copied line by line to the launcher's, stopped by signalling the whole group.

A process group of its own means Ctrl-C in the terminal reaches only the launcher,
which then stops every child in order, and that one `killpg` reaches what the child
forked (gunicorn's workers, Celery's pool), so nothing it started is left behind.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping

OutputLine = Callable[[str, str], None]  # (process name, line)


def guarded() -> list[str]:
    """The prefix that makes a command die with this process (orphan_guard)."""
    return [sys.executable, "-m", "orderwire.supervision.orphan_guard", str(os.getpid())]


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


class Child:
    """A running Procfile process; `command` is a shell command line, as in the Procfile."""

    def __init__(
        self, name: str, command: str, env: Mapping[str, str], output: OutputLine
    ) -> None:
        self.name = name
        # `exec`: the guard, then the shell, become the command, so the pid we hold is
        # gunicorn's master or Celery's main process, not something in front of it.
        self.process = subprocess.Popen(
            [*guarded(), "/bin/sh", "-c", f"exec {command}"],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.process.pid
        self.started_at = time.monotonic()
        self._copier = threading.Thread(
            target=self._copy_output, args=(output,), name=f"output-{name}", daemon=True
        )
        self._copier.start()

    def _copy_output(self, output: OutputLine) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for raw in self.process.stdout:
                output(self.name, raw.decode("utf-8", "replace").rstrip("\n"))

    def poll(self) -> int | None:
        return self.process.poll()

    def signal_group(self, signum: int) -> None:
        """Signal the child and everything in its process group (it is the group leader)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def group_alive(self) -> bool:
        """Whether any process of the group remains (the leader reaped or not)."""
        self.poll()  # reap the leader if it exited, so it does not count as alive
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # pragma: no cover - a reused pgid of another user
            return False
        return True

    def wait_gone(self, timeout: float, give_up: threading.Event | None = None) -> bool:
        """Wait until the whole group is gone; False if it is still there at the deadline
        (or when `give_up` is set)."""
        deadline = time.monotonic() + timeout
        while self.group_alive():
            if time.monotonic() > deadline or (give_up is not None and give_up.is_set()):
                return False
            time.sleep(0.05)
        return True

    def close_output(self, timeout: float = 2.0) -> None:
        """Let the copier print what the group wrote last."""
        self._copier.join(timeout)
