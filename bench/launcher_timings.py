"""`python -m bench.launcher_timings [run|dev] [--kills N]`: how long `make run` takes to
start, to serve the page again after its web process is SIGKILLed, (with `dev`) to
serve again after a source file appears, and to stop on Ctrl-C. Prints one line each.

Each kill waits for the page to go down first, so the figure is the whole outage:
the death noticed, the backoff (1 s), gunicorn booting. Between kills it waits out
the supervisor's 30 s "stable" period, so every kill gets the first backoff.
"""

import argparse
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

from tools.harness.launched import ROOT, launch, page_answers
from tools.harness.waiting import wait_for


def _outage(port: int, cause: Callable[[], object]) -> float:
    began = time.monotonic()
    cause()
    wait_for(lambda: not page_answers(port), timeout=10, interval=0.01, what="the outage")
    wait_for(lambda: page_answers(port), timeout=120, interval=0.02, what="the page again")
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("run", "dev"), nargs="?", default="run")
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()
    began = time.monotonic()
    run, port, _ = launch(args.mode, Path(tempfile.mkdtemp()) / "var")
    try:
        wait_for(lambda: page_answers(port), timeout=120, interval=0.02, what="the page")
        print(f"start to page answering: {time.monotonic() - began:.2f}s")
        for kill in range(args.kills):
            if kill:
                time.sleep(31)  # the backoff starts again from 1 s
            web = run.pid_of("web")
            seconds = _outage(port, partial(os.kill, web, signal.SIGKILL))
            print(f"web SIGKILLed to page answering again: {seconds:.2f}s")
        if args.mode == "dev":
            probe = ROOT / "worker" / f"_reload_probe_{uuid.uuid4().hex}.py"
            try:
                seconds = _outage(port, lambda: probe.write_text(""))
                print(f"source file written to page answering again: {seconds:.2f}s")
            finally:
                probe.unlink(missing_ok=True)
        began = time.monotonic()
        os.killpg(run.process.pid, signal.SIGINT)
        returncode = run.wait_exit()
        print(f"Ctrl-C to launcher exit {returncode}: {time.monotonic() - began:.2f}s")
    finally:
        run.kill()


if __name__ == "__main__":
    main()
