"""The supervisor: starts every process, restarts one that dies (with backoff) or fails its
liveness probe, and stops them all, leaving nothing behind, when asked to.

It is small on purpose. honcho (which `make run` used before) stops everything when one
process exits and has no restart; supervisord and circus restart, but run as daemons
configured by files of their own, which is more than a foreground `make run` needs and
would make a second list of processes beside the Procfile.

Threads: `run()` owns the children and is the only one to start or signal them. Output
copiers and probe threads only read; `request_stop` and `request_restart` only set flags
and queue requests, so they are safe from signal handlers and other threads.
"""

import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from orderwire.supervision.child import Child, OutputLine, describe_exit

Say = Callable[[str], None]


@dataclass(frozen=True)
class Liveness:
    """A process is alive while `check()` returns True. It is polled every `interval`
    seconds (in a thread of its own, so a slow check delays nothing else); once it has
    not returned True for `grace` seconds (counted from the start, then from the last
    success), the process is killed and restarted. An exception counts as False."""

    check: Callable[[], bool]
    interval: float = 5.0
    grace: float = 30.0


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    command: str
    env: Mapping[str, str]
    liveness: Liveness | None = None
    # Polled (about once a second) before the first start: Flower waits for a worker.
    start_when: Callable[[], bool] | None = None
    start_when_timeout: float = 60.0
    stop_timeout: float = 30.0


@dataclass(frozen=True)
class Backoff:
    """Restart delays: `first`, doubling per death in a row, at most `longest`. A process
    that stayed up `stable_after` seconds starts again from `first`."""

    first: float = 1.0
    longest: float = 30.0
    stable_after: float = 30.0

    def delay(self, deaths_in_a_row: int) -> float:
        return min(self.first * 2 ** max(deaths_in_a_row - 1, 0), self.longest)


@dataclass
class _Slot:
    spec: ProcessSpec
    child: Child | None = None
    start_at: float = 0.0
    deaths_in_a_row: int = 0
    waiting_since: float | None = None
    waited: bool = False  # only the first start waits for `start_when`
    last_alive: float = 0.0
    killed_for_liveness: bool = False
    previous: Child | None = field(default=None, repr=False)


class Supervisor:
    def __init__(
        self,
        specs: Iterable[ProcessSpec],
        *,
        output: OutputLine,
        say: Say,
        backoff: Backoff | None = None,
    ) -> None:
        self._slots = [_Slot(spec) for spec in specs]
        self._output = output
        self._say = say
        self._backoff = backoff or Backoff()
        self._stop = threading.Event()
        self._hurry = threading.Event()  # a second Ctrl-C: no more waiting
        self._restarts: queue.SimpleQueue[tuple[tuple[str, ...], str]] = queue.SimpleQueue()

    # --- what other threads and signal handlers may call --------------------------------

    def request_stop(self) -> None:
        """Stop everything (SIGTERM, then SIGKILL after each `stop_timeout`); a second
        call skips the waiting."""
        if self._stop.is_set():
            self._hurry.set()
        self._stop.set()

    def request_restart(self, names: Iterable[str], reason: str) -> None:
        """Restart these processes now, gracefully and without backoff (`make dev`)."""
        self._restarts.put((tuple(names), reason))

    def pids(self) -> dict[str, int]:
        return {slot.spec.name: slot.child.pid for slot in self._slots if slot.child}

    # --- the loop -----------------------------------------------------------------------

    def run(self) -> None:
        """Supervise until `request_stop`, then stop every process group and return."""
        probes = [
            threading.Thread(
                target=self._probe, args=(slot,), name=f"probe-{slot.spec.name}", daemon=True
            )
            for slot in self._slots
            if slot.spec.liveness
        ]
        for probe in probes:
            probe.start()
        try:
            while not self._stop.is_set():
                self._restart_requested()
                for slot in self._slots:
                    if self._stop.is_set():
                        break
                    self._tend(slot)
                self._stop.wait(0.1)
        finally:
            self._stop.set()
            self._stop_all()

    def _tend(self, slot: _Slot) -> None:
        now = time.monotonic()
        child = slot.child
        if child is None:
            if now >= slot.start_at and self._may_start(slot, now):
                self._start(slot)
            return
        returncode = child.poll()
        if returncode is None:
            self._check_liveness(slot, now)
            return
        lived = now - child.started_at
        if lived >= self._backoff.stable_after:
            slot.deaths_in_a_row = 0
        slot.deaths_in_a_row += 1
        delay = self._backoff.delay(slot.deaths_in_a_row)
        why = " (failed its liveness probe)" if slot.killed_for_liveness else ""
        self._say(
            f"{slot.spec.name} (pid {child.pid}) {describe_exit(returncode)}{why} after "
            f"{lived:.1f}s; restarting in {delay:.1f}s"
            + (f" ({slot.deaths_in_a_row} deaths in a row)" if slot.deaths_in_a_row > 1 else "")
        )
        # What it forked (gunicorn workers, the Celery pool) goes with it: a restart must
        # not find the old workers still holding the port or a task.
        child.signal_group(signal.SIGTERM)
        slot.previous, slot.child = child, None
        slot.start_at = now + delay
        slot.killed_for_liveness = False

    def _may_start(self, slot: _Slot, now: float) -> bool:
        condition = slot.spec.start_when
        if condition is None or slot.waited:
            return True
        if slot.waiting_since is None:
            slot.waiting_since = now
        if _holds(condition):
            slot.waited = True
            return True
        if now - slot.waiting_since > slot.spec.start_when_timeout:
            self._say(
                f"{slot.spec.name}: still waiting after {slot.spec.start_when_timeout:.0f}s "
                "for what it needs; starting it anyway"
            )
            slot.waited = True
            return True
        slot.start_at = now + 1.0
        return False

    def _start(self, slot: _Slot) -> None:
        previous = slot.previous
        if previous is not None and not previous.wait_gone(1.0):
            self._say(f"{slot.spec.name}: what the old process left is still running; killing it")
            previous.signal_group(signal.SIGKILL)
            previous.wait_gone(5.0)
        slot.previous = None
        try:
            slot.child = Child(slot.spec.name, slot.spec.command, slot.spec.env, self._output)
        except OSError as error:
            slot.deaths_in_a_row += 1
            delay = self._backoff.delay(slot.deaths_in_a_row)
            self._say(f"{slot.spec.name} could not start ({error}); trying again in {delay:.1f}s")
            slot.start_at = time.monotonic() + delay
            return
        slot.last_alive = time.monotonic()
        self._say(f"{slot.spec.name} started (pid {slot.child.pid})")

    # --- liveness -----------------------------------------------------------------------

    def _probe(self, slot: _Slot) -> None:
        liveness = slot.spec.liveness
        assert liveness is not None
        while not self._stop.wait(liveness.interval):
            child = slot.child
            alive = child is not None and child.poll() is None and _holds(liveness.check)
            if alive and slot.child is child:
                slot.last_alive = time.monotonic()

    def _check_liveness(self, slot: _Slot, now: float) -> None:
        liveness = slot.spec.liveness
        if liveness is None or slot.killed_for_liveness or slot.child is None:
            return
        silent = now - slot.last_alive
        if silent > liveness.grace:
            self._say(
                f"{slot.spec.name} (pid {slot.child.pid}) failed its liveness probe for "
                f"{silent:.0f}s (grace {liveness.grace:.0f}s); killing it"
            )
            # It is not doing its work, so it cannot be trusted to stop gracefully; what it
            # held is redelivered (acks late) or swept, as after any crash.
            slot.killed_for_liveness = True
            slot.child.signal_group(signal.SIGKILL)

    # --- restarts on request and stopping -----------------------------------------------

    def _restart_requested(self) -> None:
        try:
            names, reason = self._restarts.get_nowait()
        except queue.Empty:
            return
        slots = [slot for slot in self._slots if slot.spec.name in names]
        running = [slot for slot in slots if slot.child is not None]
        self._say(f"{reason}: restarting {', '.join(slot.spec.name for slot in slots)}")
        self._stop_slots(running)
        for slot in slots:
            slot.deaths_in_a_row = 0
            slot.start_at = 0.0
            if not self._stop.is_set():
                self._start(slot)

    def _stop_all(self) -> None:
        running = [slot for slot in self._slots if slot.child or slot.previous]
        if running:
            self._say("stopping " + ", ".join(slot.spec.name for slot in running))
        self._stop_slots(running)

    def _stop_slots(self, slots: list[_Slot]) -> None:
        """SIGTERM to every group at once, then wait for each; SIGKILL what outlives its
        `stop_timeout` (or everything, after a second Ctrl-C)."""
        children = [
            (slot, child)
            for slot in slots
            for child in (slot.child, slot.previous)
            if child is not None
        ]
        for _, child in children:
            child.signal_group(signal.SIGTERM)
        for slot, child in children:
            if not child.wait_gone(slot.spec.stop_timeout, give_up=self._hurry):
                self._say(f"{slot.spec.name} (pid {child.pid}) did not stop; killing it")
                child.signal_group(signal.SIGKILL)
                child.wait_gone(5.0)
            child.close_output()
            if child is slot.child and child.poll() is not None:
                self._say(f"{slot.spec.name} stopped ({describe_exit(child.poll() or 0)})")
            slot.child = slot.previous = None


def _holds(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:  # a probe that raises says "not alive", it does not stop the loop
        return False
