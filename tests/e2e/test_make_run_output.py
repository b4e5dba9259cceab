"""`make run` keeps every process working when its own output goes away."""

import os
import signal
from pathlib import Path

import pytest

from tools.harness.launched import launch, page_answers, place_an_order_and_wait
from tools.harness.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_processes_keep_working_when_the_launchers_output_goes_away(tmp_path: Path) -> None:
    """`make run | head`, or a closed terminal pane: the launcher drops the lines it can
    no longer print but keeps reading them, so no process blocks on a full pipe."""
    var = tmp_path / "var"
    run, port, _ = launch("run", var)
    try:
        wait_for(lambda: page_answers(port), timeout=90, what="the page to answer")
        run.pid_of("worker")
        run.stop_reading()
        assert place_an_order_and_wait(port)["status"] == "succeeded"  # lines to end on
        wait_for(lambda: not run.reading(), timeout=30, what="the output to be closed")

        # Far more than a pipe's 64 KiB of log lines, all of which must be written.
        for _ in range(25):
            assert place_an_order_and_wait(port)["status"] == "succeeded"

        assert run.process.poll() is None
        os.kill(run.process.pid, signal.SIGTERM)
        assert run.wait_exit() == 0
    finally:
        run.kill()
