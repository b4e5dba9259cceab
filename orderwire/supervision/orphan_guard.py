"""`python -m orderwire.supervision.orphan_guard PARENT_PID COMMAND...`: run COMMAND so that
it is sent SIGTERM when the launcher dies, even by SIGKILL, which nothing can catch.

Linux's PR_SET_PDEATHSIG survives exec, so the guard sets it and then becomes the
command (same pid). It is a separate step, not a `preexec_fn`, because the launcher
has threads, and Python documents `preexec_fn` as unsafe with threads. Elsewhere than
Linux it only execs: the launcher still stops its children on every signal it can
catch.
"""

import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")


def main(argv: list[str]) -> None:
    parent, command = int(argv[0]), argv[1:]
    _die_with_parent()
    if os.getppid() != parent:  # the launcher died before the guard was in place
        raise SystemExit(1)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
