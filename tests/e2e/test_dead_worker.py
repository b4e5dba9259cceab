"""A dead worker's command is re-enqueued within 30 s; a live worker's is never taken.

Default lease settings (renewed every 5 s, taken after 20 s without renewal): the
command sleeps 40 s inside its transaction, far longer than the lease, so only the
renewals keep it where it is; then the whole worker is killed.
"""

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from orderwire.db.engine import make_engine
from tests.e2e.reliability import (
    assert_placed_exactly_once,
    log_records,
    order_events,
    place,
    wait_inside_the_transaction,
)
from tools.harness.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    with System(tmp_path, env={"ORDERWIRE_FAULTS": "transaction.before_commit=sleep:40"},
                worker_concurrency=1) as running:
        yield running


@pytest.fixture
def database(system: System) -> Iterator[Engine]:
    engine = make_engine(system.database_url)
    yield engine
    engine.dispose()


def requeued(system: System, request_id: str) -> int:
    return sum(
        1
        for record in log_records(system, "relay")
        if record.get("event") == "command.requeued" and record.get("request_id") == request_id
    )


def test_a_dead_worker_s_command_runs_again_within_30_s_and_only_once(
    system: System, database: Engine
) -> None:
    browser = system.new_session()
    accepted = place(system, browser)
    key = accepted["request_id"]
    wait_inside_the_transaction(system, "worker", browser, key)

    # 25 s: longer than the lease, so without renewals the sweeper would have taken it.
    alive_until = time.monotonic() + 25
    while time.monotonic() < alive_until:
        status = system.api(browser).command(key)
        assert status["status"] == "running" and status["attempts"] == 1, status
        time.sleep(0.5)
    assert not requeued(system, key), "the sweeper took a command from a live worker"

    system.stop_process("worker", sig=signal.SIGKILL)  # the whole host's worker, at once
    killed_at = time.monotonic()
    system.start_worker("rescuer", env={"ORDERWIRE_FAULTS": ""})
    status = system.api(browser).wait_until_final(key, timeout=40)
    rescued_after = time.monotonic() - killed_at

    assert rescued_after < 30, f"took {rescued_after:.1f} s"
    assert requeued(system, key) >= 1
    assert status["status"] == "succeeded" and status["attempts"] == 2
    assert order_events(system, browser, accepted["order_id"]) == ["OrderPlaced"]
    assert_placed_exactly_once(database, accepted["order_id"])
