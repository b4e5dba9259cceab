"""The chaos run (`make chaos`) with small counts: every promise holds through worker
kills, a Redis restart, a database outage and a relay crash between publish and mark."""

import pytest

from chaos.scenario import ChaosOptions, print_summary, run_chaos

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def test_every_promise_holds_through_the_storm() -> None:
    report = run_chaos(ChaosOptions(rate=10, sessions=3, worker_kills=2, redis_restarts=2,
                                    db_outage=2, pause=2, settle_timeout=90, seed=7))
    print_summary(report)
    assert report["commands_accepted"] > 0
    assert len(report["faults"]) >= 6, report["faults"]
    failed = [check for check in report["checks"] if not check["passed"]]
    assert failed == [], failed
