"""`make dev`: a changed source file restarts web, worker and relay (and only them), and the
page is served by the new processes."""

import os
import signal
import uuid
from pathlib import Path

import pytest

from tools.harness.launched import ROOT, launch, page_answers, place_an_order_and_wait
from tools.harness.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

RELOADED = ("web", "worker", "relay")


def test_a_changed_source_file_restarts_web_worker_and_relay(tmp_path: Path) -> None:
    run, port, _ = launch("dev", tmp_path / "var")
    # A new module in a watched package: the test's own file, so no real code is edited.
    changed = ROOT / "worker" / f"_reload_probe_{uuid.uuid4().hex}.py"
    try:
        wait_for(lambda: page_answers(port), timeout=90, what="the page to answer")
        before = {name: run.pid_of(name) for name in (*RELOADED, "flower")}
        assert "reload  web, worker, relay restart when a .py or .html file" in run.output

        changed.write_text('"""Written by tests/e2e/test_make_dev.py; safe to delete."""\n')

        wait_for(lambda: run.said(rf"{changed.name} changed: restarting web, worker, relay"),
                 timeout=30, what="the change to be noticed")
        for name in RELOADED:
            run.pid_of(name, other_than=before[name])
        wait_for(lambda: page_answers(port), timeout=90, what="the restarted page")
        assert place_an_order_and_wait(port)["status"] == "succeeded"
        assert run.pid_of("flower") == before["flower"]
        assert not run.said("restarting in")  # a reload is not a crash: no backoff

        os.killpg(run.process.pid, signal.SIGINT)

        assert run.wait_exit() == 0, run.output
    finally:
        run.kill()
        changed.unlink(missing_ok=True)
