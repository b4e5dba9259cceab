"""The chaos run (`make chaos`) with small counts: every promise holds through worker
kills, the Celery main process and a gunicorn worker killed, a Redis restarted empty, a
database outage under reads and writes and a relay crash between publish and mark."""

import pytest

from chaos.scenario import ChaosOptions, print_summary, run_chaos

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(360)]


def test_every_promise_holds_through_the_storm() -> None:
    report = run_chaos(ChaosOptions(rate=10, sessions=3, worker_kills=2, main_kills=1,
                                    web_kills=1, redis_restarts=2, db_outage=2, pause=2,
                                    settle_timeout=90, seed=7))
    print_summary(report)
    assert report["commands_accepted"] > 0
    assert len(report["faults"]) >= 8, report["faults"]
    faults = [phase["fault"] for phase in report["phases"]]
    assert {"calm", "worker", "celery main", "gunicorn worker", "redis", "database",
            "relay"} <= set(faults), faults
    for phase in report["phases"]:
        assert phase["lost"] == phase["doubled"] == phase["5xx_not_503"] == 0, phase
    failed = [check for check in report["checks"] if not check["passed"]]
    assert failed == [], failed
