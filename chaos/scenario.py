"""The storm, in order, under a steady stream of commands and reads, then the checks.

1. worker kills: SIGKILL a pool process (Celery replaces it), then the whole worker
   (a new one is started), `worker_kills` times in all;
2. the Celery main process alone killed (its pool processes die with it), then a new
   worker started, as a supervisor would, `main_kills` times;
3. a gunicorn worker killed while requests are in flight (the master starts another),
   `web_kills` times;
4. Redis restarts: killed, down `redis_down` seconds, started again on the same port,
   alternately empty (queued tasks, session histories and dedup markers are gone) and
   from its append-only file; no process is restarted for it (the check "every
   process rode through Redis" compares every PID before and after); a worker that
   dies of it anyway is reported (and restarted, so the run goes on);
5. a database outage of `db_outage` seconds while reads and writes go on (SQLite: an
   exclusive lock held from outside; PostgreSQL: the server unreachable, every
   connection reset and new ones refused, through tools/harness/proxy.py; then, as before,
   every table locked and orderwire's connections terminated);
6. a relay crash between publishing and marking: with the relay stopped, a worker
   that dies right after each commit, before its fast path publishes, leaves committed
   but unpublished events; a relay publishes them and dies before marking; then a
   healthy relay publishes them again and marks them.
Then the traffic stops, the system is given `settle_timeout` seconds to finish
everything, the checks run, and each fault's phase is reported (chaos/phases.py).
"""

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, select

from chaos import checks
from chaos.observers import EventTap, LiveListener
from chaos.phases import Timeline, print_table
from chaos.phases import report as phase_report
from chaos.system import (
    RELAY_CRASH,
    SECRET_KEY,
    WORKER_CRASH_AFTER_COMMIT,
    ChaosSystem,
    chaos_database,
)
from chaos.traffic import CommandStream, ReadStream, new_browser
from orderwire import registry
from orderwire.db.tables import commands, events
from orderwire.outbox.deliveries.status import subscriber_status
from orderwire.outbox.deliveries.subscriptions import subscriptions_from
from orderwire.outbox.keys import PUBLISHED_IDS
from tools.harness.waiting import wait_for


@dataclass
class ChaosOptions:
    rate: float = 15.0
    sessions: int = 6
    worker_kills: int = 4
    main_kills: int = 2
    web_kills: int = 2
    redis_restarts: int = 5
    redis_down: float = 2.0
    db_outage: float = 4.0
    relay_crash: bool = True
    pause: float = 3.0  # traffic alone between two faults
    settle_timeout: float = 120.0
    seed: int | None = None


class Storm:
    def __init__(self, system: ChaosSystem, options: ChaosOptions) -> None:
        self.system = system
        self.options = options
        self.started = time.monotonic()
        self.faults: list[tuple[float, str, str]] = []
        self.engine = system.engine()
        self.timeline = Timeline()
        self.casualties: list[str] = []
        self.in_flight: Any = lambda: 0  # requests being answered right now (set by _run)

    def note(self, fault: str, detail: str) -> None:
        self.faults.append((round(time.monotonic() - self.started, 1), fault, detail))
        print(f"  {self.faults[-1][0]:6.1f}s  {fault}: {detail}", flush=True)
        phase = self.timeline.phases[-1] if self.timeline.phases else None
        if phase is not None and phase.name == fault:
            phase.detail = "; ".join(filter(None, [phase.detail, detail]))

    def begin(self, fault: str) -> None:
        """A new phase starts now, before the fault is done (its effects are in it)."""
        self.timeline.begin(fault)

    def main_kills(self) -> None:
        for _ in range(self.options.main_kills):
            self.begin("celery main")
            pid = self.system.kill_worker_main()
            name = self.system.replace_worker()
            self.note("celery main", f"SIGKILL main process {pid} only; started {name}")
            self.pause()

    def web_kills(self) -> None:
        for _ in range(self.options.web_kills):
            self.begin("gunicorn worker")
            # Mid-request: wait (a few seconds at most) for a command to be on the wire.
            deadline = time.monotonic() + 3
            while self.in_flight() == 0 and time.monotonic() < deadline:
                time.sleep(0.001)
            busy = self.in_flight()
            pid = self.system.kill_web_worker()
            self.note("gunicorn worker", f"SIGKILL worker {pid} with {busy} requests in flight")
            self.pause()

    def check_worker_alive(self, after: str) -> None:
        died = self.system.worker_exit()
        if died is None:
            return
        code, last_error = died
        casualty = f"the Celery worker died (exit {code}) after {after}: {last_error}"
        self.casualties.append(casualty)
        self.timeline.phases[-1].notes.append(casualty)
        print(f"  ! {casualty}", flush=True)
        self.system.replace_worker()  # what `restart: unless-stopped` or a supervisor does

    def pause(self) -> None:
        time.sleep(self.options.pause)

    def worker_kills(self) -> None:
        for index in range(self.options.worker_kills):
            self.begin("worker")
            if index % 2 == 0:
                pid = self.system.kill_worker_child()
                self.note("worker", f"SIGKILL pool process {pid}")
            else:
                self.system.kill_worker()
                name = self.system.replace_worker()
                self.note("worker", f"SIGKILL whole worker; started {name}")
            self.pause()

    def redis_restarts(self) -> checks.Check:
        before = self.system.survivors()
        for index in range(self.options.redis_restarts):
            keep_data = index % 2 == 1
            self.begin("redis")
            self.system.restart_redis(self.options.redis_down, keep_data=keep_data)
            how = "from its append-only file" if keep_data else "empty"
            self.note("redis", f"killed, down {self.options.redis_down:g} s, restarted {how}")
            self.pause()
            self.check_worker_alive("a Redis restart")
        return checks.processes_rode_through(before, self.system.survivors(),
                                             self.options.redis_restarts)

    def database_outage(self) -> None:
        if self.options.db_outage <= 0:
            return
        self.begin("database")
        self.note("database", self.system.database_outage(self.options.db_outage))
        self.pause()
        self.check_worker_alive("a database outage")
        if self.system.proxy is not None:  # PostgreSQL: the lock-and-terminate outage too
            self.begin("database lock")
            self.note("database lock", self.system.lock_database(self.options.db_outage))
            self.pause()

    def unpublished(self) -> int:
        query = select(func.count()).select_from(events).where(events.c.published_at.is_(None))
        with self.engine.connect() as connection:
            return connection.execute(query).scalar_one()

    def listed_for_marking(self) -> int:
        """Events the fast path published, listed for the relay to mark."""
        client = redis.Redis.from_url(self.system.redis.url)
        try:
            return client.llen(PUBLISHED_IDS)
        finally:
            client.close()

    def relay_crash(self) -> None:
        if not self.options.relay_crash:
            return
        system = self.system
        self.begin("relay")
        system.stop_relay()
        system.kill_worker()
        system.replace_worker(env=WORKER_CRASH_AFTER_COMMIT)
        # With the relay stopped, the fast path's events wait unmarked too, but those are
        # listed for marking; an event neither listed nor marked is the dying worker's.
        wait_for(lambda: self.unpublished() > self.listed_for_marking(), timeout=60,
                 what="a worker to die between its commit and publishing")
        backlog = self.unpublished() - self.listed_for_marking()
        system.kill_worker()
        system.replace_worker()
        self.note("relay", f"{backlog} events committed but unpublished (worker died after "
                           "its commit)")
        time.sleep(2.5)  # the relay only takes events older than its 2 s grace
        system.launch_relay(env=RELAY_CRASH)
        code = system.wait_for_relay_exit(timeout=30)
        self.note("relay", f"relay died between publishing and marking (exit {code})")
        if code is None:  # it found nothing to publish: stop it rather than leave it running
            system.stop_relay()
        system.launch_relay()
        self.note("relay", "healthy relay started")
        self.pause()

    def settle(self) -> None:
        unfinished = (select(func.count()).select_from(commands)
                      .where(commands.c.status.in_(("accepted", "running"))))

        def count(query: Any) -> int:
            with self.engine.connect() as connection:
                return connection.execute(query).scalar_one()

        wait_for(lambda: count(unfinished) == 0, timeout=self.options.settle_timeout,
                 interval=0.5, what="every command to finish")
        wait_for(lambda: self.unpublished() == 0, timeout=30, interval=0.5,
                 what="the outbox to empty")
        # On PostgreSQL a subscriber waits at a gap in seq (a rolled-back attempt) until it
        # is task_time_limit + 30 s old: allow for that (docs/events.md, section 2).
        subscriptions = subscriptions_from(registry.AFTER_COMMIT_SUBSCRIBERS)
        wait_for(lambda: all(s.lag == 0 for s in subscriber_status(self.engine, subscriptions)),
                 timeout=180, interval=0.5, what="the after-commit subscribers to catch up")


def run_chaos(options: ChaosOptions) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="orderwire-chaos-") as workdir, \
            chaos_database(Path(workdir)) as database_url:
        system = ChaosSystem(Path(workdir), database_url)
        with system:
            try:
                return _run(system, options)
            except BaseException:
                system.dump_logs()
                raise
            finally:
                # The checker's own connections go before the private schema is dropped,
                # or a failed run waits forever on its open transaction.
                system.dispose_engines()


def _run(system: ChaosSystem, options: ChaosOptions) -> dict[str, Any]:
    tap = EventTap(system.redis.url).start()
    browsers = [new_browser(system.base_url, SECRET_KEY) for _ in range(options.sessions)]
    listeners = {b.session_id: LiveListener(system.base_url, b.cookie).start() for b in browsers}
    traffic = CommandStream(system.base_url, browsers, options.rate, seed=options.seed).start()
    reads = ReadStream(system.base_url, browsers, traffic, options.rate / 2).start()
    storm = Storm(system, options)
    storm.in_flight = lambda: traffic.in_flight
    storm.timeline.begin("calm", "traffic only")
    storm.pause()
    storm.worker_kills()
    storm.main_kills()
    storm.web_kills()
    rode_through_redis = storm.redis_restarts()
    storm.database_outage()
    storm.relay_crash()
    traffic.stop()
    reads.stop()
    storm.begin("traffic")
    storm.note("traffic", f"stopped after {len(traffic.sent)} commands, {len(reads.answers)} reads")
    storm.settle()
    db = checks.load(storm.engine)
    _wait_quietly(lambda: all(e["event_id"] in tap.seen for e in db["events"]), 5)
    _wait_quietly(lambda: _listeners_caught_up(db, listeners), 10)
    tap.stop()
    for listener in listeners.values():
        listener.stop()
    results = [
        checks.every_command_final(db, traffic.accepted),
        checks.exactly_once(db),
        checks.sales_ledger_booked_once(db),
        checks.every_event_published(db, tap),
        checks.no_websocket_missed(db, listeners),
        checks.no_server_errors([a for s in traffic.sent for a in s.answers]
                                + [a for _, a in reads.answers]),
        checks.processes_survived(storm.casualties),
        rode_through_redis,
    ]
    phases = phase_report(storm.timeline.phases[:-1], traffic.sent, reads.answers, db)
    return {
        "database": "postgresql" if system.proxy is not None else "sqlite",
        "options": vars(options),
        "seconds": round(time.monotonic() - storm.started, 1),
        "commands_sent": len(traffic.sent),
        "commands_accepted": len(traffic.accepted),
        "not_accepted": [(s.key, s.path, s.status) for s in traffic.sent if s.status != 202],
        "faults": storm.faults,
        "phases": phases,
        "checks": [vars(check) for check in results],
        "passed": all(check.passed for check in results),
    }


def _listeners_caught_up(db: dict[str, Any], listeners: dict[str, LiveListener]) -> bool:
    return checks.no_websocket_missed(db, listeners).passed


def _wait_quietly(probe: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not probe() and time.monotonic() < deadline:
        time.sleep(0.2)


def print_summary(report: dict[str, Any]) -> None:
    print(f"\nchaos: {report['commands_accepted']} of {report['commands_sent']} commands "
          f"accepted in {report['seconds']} s on {report['database']}; "
          f"{len(report['faults'])} faults injected")
    print_table(report["phases"])
    width = max(len(check["name"]) for check in report["checks"])
    for check in report["checks"]:
        verdict = "PASS" if check["passed"] else "FAIL"
        print(f"  {check['name']:<{width}}  {verdict}  {check['detail']}")
    if report["not_accepted"]:
        print(f"  not accepted (never answered 202): {report['not_accepted'][:5]}")
