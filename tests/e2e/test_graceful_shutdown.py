"""Stopping processes the way honcho, docker and systemd do (SIGTERM) loses nothing:
pages are told to reconnect, and a command a worker is carrying out still finishes."""

import os
import signal
import struct
import time

import pytest

from tests.payloads import a_key, a_line, order_body
from tools.harness.system import System
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

ORDER = order_body("Edsger Dijkstra", a_line("semaphore", 2, "3.00"))
OPCODE_CLOSE = 0x8
GOING_AWAY = 1001


def test_sigterm_to_gunicorn_closes_open_websockets_with_going_away(tmp_path) -> None:
    with System(tmp_path, start_relay=False) as system:
        browser = system.new_session()
        with system.websocket(browser) as live:
            web = system.processes["web"]
            signalled = time.monotonic()
            os.kill(web.pid, signal.SIGTERM)  # the master, as docker stop or honcho would
            live.ws.settimeout(10)
            opcode, payload = live.ws.recv_data(control_frame=True)
            waited = time.monotonic() - signalled

            assert opcode == OPCODE_CLOSE
            assert struct.unpack("!H", payload[:2])[0] == GOING_AWAY
            # Promptly: long before gunicorn's graceful_timeout (15 s) would cut it off.
            assert waited < 5, waited
        web.wait(30)
        assert web.returncode == 0


def test_sigterm_to_a_worker_mid_command_lets_the_command_finish(tmp_path) -> None:
    # Each command pauses 3 s inside its transaction: a window to stop the worker in.
    with System(tmp_path, env={"ORDERWIRE_FAULTS": "handler.start=sleep:3"}) as system:
        browser = system.new_session()
        key = a_key("shutdown")
        assert system.api(browser).post("/api/orders", ORDER, key=key).status_code == 202
        worker_log = system.logs / "worker.log"
        wait_for(
            lambda: any(
                '"fault.injected"' in line and key in line
                for line in worker_log.read_text().splitlines()
            ),
            timeout=30, what="the worker to be inside the command",
        )
        worker = system.processes["worker"]
        # The whole process group, as honcho and `kill -- -PGID` do: the pool child that
        # runs the command gets SIGTERM too, and must leave the stopping to its parent.
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(60)

        assert worker.returncode == 0
        assert system.api(browser).command(key)["status"] == "succeeded"
        assert "Warm shutdown" in worker_log.read_text()
