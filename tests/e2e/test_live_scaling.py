"""Measured: with 4 web processes, each one's CPU for live traffic follows its own sessions.

Four gunicorn processes share one Redis. Their busy sessions are spread unevenly (16,
8, 4 and 0), and each also holds one quiet session's socket, so every process is
subscribed; 2,800 events are published evenly over the 28 busy sessions. Each web
process must spend CPU in proportion to the sessions it serves: the one with none
about nothing, not what it would cost to decode every event of the system.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from orderwire.local_redis import free_port
from tests.live_tools import publish_notes, read_until, session_id_of
from tools.harness.system import LiveClient, System
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

SESSIONS_PER_WEB = [16, 8, 4, 0]
EVENTS_PER_SESSION = 100
PADDING = 600  # bytes of text per event, about a real envelope's size


@pytest.fixture
def webs(tmp_path: Path) -> Iterator[tuple[System, list[int]]]:
    system = System(tmp_path, env={"ORDERWIRE_RATE_LIMIT": "off"})
    system.redis.start()
    system.create_schema()
    ports = [free_port() for _ in SESSIONS_PER_WEB]
    try:
        for index, port in enumerate(ports):
            system.start_web(f"web-{index}", port)
        for port in ports:
            system.port = port
            wait_for(system._web_ready, timeout=60, what=f"web on {port}")
        yield system, ports
    except BaseException:
        system.dump_logs()
        raise
    finally:
        system.stop()


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def test_each_web_process_pays_for_its_own_sessions_only(
    webs: tuple[System, list[int]],
) -> None:
    system, ports = webs
    workers = [
        psutil.Process(system.processes[f"web-{index}"].pid).children()[0]
        for index in range(len(ports))
    ]
    opened, clients, sessions = [], [], []
    for port, count in zip(ports, SESSIONS_PER_WEB, strict=True):
        system.port = port
        for index in range(count + 1):
            browser = system.new_session()
            context = system.websocket(browser)
            client = context.__enter__()
            opened.append(context)
            if index < count:  # the last one is the quiet session
                clients.append(client)
                sessions.append(session_id_of(browser))
    try:
        before = [cpu_seconds(worker) for worker in workers]
        started = time.monotonic()
        for _ in range(EVENTS_PER_SESSION // 10):
            for session in sessions:
                publish_notes(system.redis.url, [session], 10, padding=PADDING)
        for client in clients:
            drain(client, EVENTS_PER_SESSION)
        elapsed = time.monotonic() - started
        spent = [cpu_seconds(worker) - was for worker, was in zip(workers, before, strict=True)]
    finally:
        for context in opened:
            context.__exit__(None, None, None)

    per_session = spent[0] / SESSIONS_PER_WEB[0]
    print(f"\nlive CPU per web process (s) for {SESSIONS_PER_WEB} sessions, "
          f"{len(sessions) * EVENTS_PER_SESSION} events in {elapsed:.1f} s: "
          + ", ".join(f"{seconds:.3f}" for seconds in spent))
    # Follows its own sessions: the busiest pays the most, and the idle one next to
    # nothing (under a tenth of what one with 16 sessions pays; decoding every event of
    # the system, as each process did before routes, costs about as much as serving them).
    assert spent[0] > spent[2]
    assert spent[3] < 0.1 * spent[0], spent
    assert spent[3] < 2 * per_session, spent


def drain(client: LiveClient, count: int) -> None:
    read_until(client, lambda events: len(events) >= count, timeout=60,
               what=f"{count} events on a socket")
