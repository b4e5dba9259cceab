"""A worker that is alive but not consuming is told apart from one that consumes: its
probe stops being consumed, `orderwire worker-alive` fails and `/metrics` drops it."""

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from tools.harness.system import BIN, System
from tools.harness.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

NODE = f"worker@{socket.gethostname()}"


def worker_alive(system: System) -> bool:
    answer = subprocess.run(
        [str(BIN / "orderwire"), "worker-alive", "--node", NODE, "--within", "3"],
        env=system.env(), capture_output=True, text=True, timeout=30,
    )
    return answer.returncode == 0


def consuming_gauge(system: System) -> float:
    metrics = requests.get(f"{system.base_url}/metrics", timeout=10).text
    [line] = [ln for ln in metrics.splitlines() if ln.startswith("orderwire_workers_consuming ")]
    return float(line.split()[1])


def test_a_stopped_consumer_is_detected_and_a_resumed_one_is_seen_again(tmp_path: Path) -> None:
    with System(tmp_path, env={"ORDERWIRE_WORKER_PROBE_SECONDS": "1"}, start_relay=False) as system:
        wait_for(lambda: worker_alive(system), timeout=30, what="the first consumed probe")
        assert consuming_gauge(system) == 1
        main = system.processes["worker"].pid

        os.kill(main, signal.SIGSTOP)  # alive (the PID is there), consuming nothing
        try:
            wait_for(lambda: not worker_alive(system), timeout=20,
                     what="worker-alive to notice the consumer stopped")
            wait_for(lambda: consuming_gauge(system) == 0, timeout=20,
                     what="/metrics to drop the worker")
        finally:
            os.kill(main, signal.SIGCONT)

        wait_for(lambda: worker_alive(system), timeout=30, what="the worker to consume again")
        ready = requests.get(f"{system.base_url}/readyz", timeout=10).json()
        assert [w["node"] for w in ready["workers_consuming"]] == [NODE]
