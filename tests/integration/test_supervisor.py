"""The supervisor on real child processes (small Python scripts): restarts with backoff,
liveness probes, start conditions, restarts on request, and a stop that leaves nothing."""

import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from orderwire.supervision.supervisor import Backoff, Liveness, ProcessSpec, Supervisor
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.integration

PYTHON = sys.executable
# Prints its pid, then lives until it is signalled.
SLEEPER = f"{PYTHON} -c 'import os, time; print(os.getpid(), flush=True); time.sleep(600)'"
# Forks a grandchild (same process group), prints both pids, then sleeps.
FORKER = (
    f"{PYTHON} -c 'import os, time\n"
    "child = os.fork()\n"
    "if child == 0:\n    time.sleep(600); os._exit(0)\n"
    "print(\"grandchild\", child, flush=True); time.sleep(600)'"
)
# Ignores SIGTERM: only SIGKILL stops it.
STUBBORN = (
    f"{PYTHON} -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print(\"ignoring SIGTERM\", flush=True); time.sleep(600)'"
)
FAST_BACKOFF = Backoff(first=0.2, longest=0.8, stable_after=30)


class Recorder:
    """What the supervisor printed, for the tests to wait on."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def output(self, name: str, line: str) -> None:
        with self._lock:
            self.lines.append(f"{name} | {line}")

    def say(self, line: str) -> None:
        self.output("launcher", line)

    def said(self, pattern: str) -> list[re.Match]:
        with self._lock:
            return [m for line in self.lines if (m := re.search(pattern, line))]


def spec(name: str, command: str = SLEEPER, **options: Any) -> ProcessSpec:
    options.setdefault("env", dict(os.environ))
    return ProcessSpec(name=name, command=command, **options)


@contextmanager
def supervising(
    *specs: ProcessSpec, backoff: Backoff = FAST_BACKOFF
) -> Iterator[tuple[Supervisor, Recorder]]:
    recorder = Recorder()
    supervisor = Supervisor(specs, output=recorder.output, say=recorder.say, backoff=backoff)
    loop = threading.Thread(target=supervisor.run, daemon=True)
    loop.start()
    try:
        yield supervisor, recorder
    finally:
        supervisor.request_stop()
        loop.join(60)
        assert not loop.is_alive(), "the supervisor did not stop"


def started_pid(supervisor: Supervisor, name: str, other_than: int | None = None) -> int:
    def current() -> int | None:
        pid = supervisor.pids().get(name)
        return pid if pid and pid != other_than else None

    return wait_for(current, timeout=20, what=f"{name} to be started")


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = f"/proc/{pid}/stat"
    return os.path.exists(stat) and ") Z" in open(stat).read()


def test_a_process_that_dies_is_restarted_and_logged_while_the_others_keep_running() -> None:
    with supervising(spec("a"), spec("b")) as (supervisor, said):
        first_a, first_b = started_pid(supervisor, "a"), started_pid(supervisor, "b")

        os.kill(first_a, signal.SIGKILL)

        second_a = started_pid(supervisor, "a", other_than=first_a)
        assert said.said(rf"a \(pid {first_a}\) killed by SIGKILL after [\d.]+s; restarting in")
        assert supervisor.pids()["b"] == first_b and not gone(first_b)
        wait_for(lambda: said.said(rf"^a \| {second_a}$"), what="the new process's output")


def test_restarts_back_off_while_a_process_keeps_dying() -> None:
    crasher = f"{PYTHON} -c 'import sys; print(\"crashing\", flush=True); sys.exit(3)'"
    with supervising(spec("crasher", crasher)) as (_, said):

        def four_deaths() -> list[re.Match[str]] | None:
            found = said.said(r"exited with code 3.*restarting in ([\d.]+)s")
            return found if len(found) >= 4 else None

        deaths = wait_for(
            four_deaths,
            timeout=20,
            what="four deaths",
        )
    delays = [float(match.group(1)) for match in deaths[:4]]
    assert delays == [0.2, 0.4, 0.8, 0.8]  # doubling, capped at `longest`
    assert said.said(r"\(4 deaths in a row\)")


def test_what_a_dead_process_forked_is_stopped_before_it_is_started_again() -> None:
    with supervising(spec("forker", FORKER)) as (supervisor, said):
        first = started_pid(supervisor, "forker")
        grandchild = int(
            wait_for(lambda: said.said(r"grandchild (\d+)"), what="the fork")[0].group(1)
        )

        os.kill(first, signal.SIGKILL)

        started_pid(supervisor, "forker", other_than=first)
        wait_for(lambda: gone(grandchild), timeout=10, what="the old grandchild to be stopped")


def test_a_process_failing_its_liveness_probe_is_killed_and_restarted() -> None:
    healthy = threading.Event()
    healthy.set()
    liveness = Liveness(check=healthy.is_set, interval=0.1, grace=1.0)
    with supervising(spec("probed", liveness=liveness), spec("other")) as (supervisor, said):
        first = started_pid(supervisor, "probed")
        other = started_pid(supervisor, "other")
        time.sleep(2.0)  # a healthy process outlives its grace period several times over
        assert supervisor.pids()["probed"] == first and not said.said("liveness")

        healthy.clear()

        second = started_pid(supervisor, "probed", other_than=first)
        assert said.said(rf"probed \(pid {first}\) failed its liveness probe for \d+s")
        assert said.said(rf"probed \(pid {first}\) killed by SIGKILL \(failed its liveness probe\)")
        assert gone(first) and supervisor.pids()["other"] == other
        healthy.set()
        assert supervisor.pids()["probed"] == second


def test_a_probe_that_raises_counts_as_failing() -> None:
    def broken() -> bool:
        raise ConnectionError("cannot reach it")

    liveness = Liveness(check=broken, interval=0.1, grace=0.5)
    with supervising(spec("probed", liveness=liveness)) as (supervisor, said):
        first = started_pid(supervisor, "probed")
        started_pid(supervisor, "probed", other_than=first)
        assert said.said("failed its liveness probe")


def test_a_process_waits_for_its_start_condition() -> None:
    ready = threading.Event()
    waiting = spec("waiting", start_when=ready.is_set)
    with supervising(spec("first"), waiting) as (supervisor, _):
        started_pid(supervisor, "first")
        time.sleep(1.5)  # the condition is polled about once a second: twice, by now
        assert "waiting" not in supervisor.pids()

        ready.set()

        started_pid(supervisor, "waiting")


def test_a_start_condition_that_never_holds_gives_up_and_starts_the_process() -> None:
    waiting = spec("waiting", start_when=lambda: False, start_when_timeout=1.0)
    with supervising(waiting) as (supervisor, said):
        started_pid(supervisor, "waiting")
        assert said.said("still waiting after 1s for what it needs; starting it anyway")


def test_a_restart_on_request_replaces_only_the_named_processes() -> None:
    with supervising(spec("a"), spec("b"), spec("c")) as (supervisor, said):
        pids = {name: started_pid(supervisor, name) for name in "abc"}

        supervisor.request_restart(["a", "b"], "web/pages.py changed")

        started_pid(supervisor, "a", other_than=pids["a"])
        started_pid(supervisor, "b", other_than=pids["b"])
        assert supervisor.pids()["c"] == pids["c"]
        assert said.said("web/pages.py changed: restarting a, b")
        assert not said.said("restarting in")  # a requested restart is not a crash


def test_stopping_leaves_no_process_of_any_group_behind() -> None:
    with supervising(spec("forker", FORKER), spec("sleeper")) as (supervisor, said):
        pids = [started_pid(supervisor, "forker"), started_pid(supervisor, "sleeper")]
        pids.append(int(wait_for(lambda: said.said(r"grandchild (\d+)"))[0].group(1)))
    assert all(gone(pid) for pid in pids)
    assert said.said("forker stopped") and said.said("sleeper stopped")


def test_a_process_that_ignores_sigterm_is_killed_after_its_stop_timeout() -> None:
    stubborn = spec("stubborn", STUBBORN, stop_timeout=1.0)
    with supervising(stubborn) as (supervisor, said):
        pid = started_pid(supervisor, "stubborn")
        wait_for(lambda: said.said("ignoring SIGTERM"), what="the handler to be installed")
        began = time.monotonic()
    assert gone(pid)
    assert said.said(rf"stubborn \(pid {pid}\) did not stop; killing it")
    assert time.monotonic() - began < 10


def test_a_second_stop_request_does_not_wait_for_the_stop_timeout() -> None:
    stubborn = spec("stubborn", STUBBORN, stop_timeout=60.0)
    recorder = Recorder()
    supervisor = Supervisor([stubborn], output=recorder.output, say=recorder.say)
    loop = threading.Thread(target=supervisor.run, daemon=True)
    loop.start()
    pid = started_pid(supervisor, "stubborn")
    wait_for(lambda: recorder.said("ignoring SIGTERM"), what="the handler to be installed")
    began = time.monotonic()

    supervisor.request_stop()
    wait_for(lambda: recorder.said("stopping stubborn"), what="the stop to begin")
    supervisor.request_stop()  # the second Ctrl-C

    loop.join(20)
    assert not loop.is_alive() and gone(pid)
    assert time.monotonic() - began < 20


def test_a_command_that_is_not_found_is_retried_with_backoff() -> None:
    # /bin/sh starts, but cannot find the command: it exits 127, a death like any other.
    with supervising(spec("missing", "orderwire-no-such-command")) as (_, said):
        wait_for(lambda: len(said.said(r"exited with code 127")) >= 2, what="two attempts")
        assert said.said(r"missing \| .*orderwire-no-such-command.*not found")
