"""Reading which workers consume, on a real Redis: what `/metrics`, `/readyz` and
`orderwire worker-alive` report. (The worker's side runs in tests/e2e/test_redis_restart.py.)"""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from orderwire import worker_liveness
from orderwire.local_redis import PrivateRedis, free_port
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.integration

ORDERWIRE = str(Path(sys.executable).parent / "orderwire")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    with PrivateRedis(tmp_path / "redis") as server:
        yield server


def worker_alive(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": redis_url, "ORDERWIRE_ENV": "test"}
    return subprocess.run(
        [ORDERWIRE, "worker-alive", *args], env=env, capture_output=True, text=True, timeout=30
    )


def test_a_recorded_probe_counts_for_six_probe_intervals(own_redis: PrivateRedis) -> None:
    client = redis.Redis.from_url(own_redis.url)
    worker_liveness.record_consumed(client, "worker@a", probe_seconds=5)

    [seen] = worker_liveness.consuming_workers(client)
    assert seen.node == "worker@a" and 0 <= seen.seconds_since_consumed < 5
    assert client.pttl(worker_liveness.KEY_PREFIX + "worker@a") > 29_000
    assert worker_liveness.seconds_since_consumed(client, "worker@b") is None


def test_a_worker_that_stopped_consuming_drops_out_when_its_window_ends(
    own_redis: PrivateRedis,
) -> None:
    client = redis.Redis.from_url(own_redis.url)
    worker_liveness.record_consumed(client, "worker@a", probe_seconds=0.05)  # a 0.3 s window
    assert worker_liveness.consuming_workers(client) != []

    wait_for(lambda: worker_liveness.consuming_workers(client) == [], timeout=5,
             what="the probe's window to end")


def test_worker_alive_exits_0_for_a_consuming_worker_and_1_otherwise(
    own_redis: PrivateRedis,
) -> None:
    worker_liveness.record_consumed(redis.Redis.from_url(own_redis.url), "worker@a", 5)

    alive = worker_alive(own_redis.url, "--node", "worker@a")
    assert alive.returncode == 0, alive.stderr
    assert "worker@a consumed" in alive.stdout

    silent = worker_alive(own_redis.url, "--node", "worker@b")
    assert silent.returncode == 1
    assert "worker@b has consumed nothing in the last 30 s" in silent.stderr


def test_worker_alive_exits_1_when_redis_cannot_be_read() -> None:
    answer = worker_alive(f"redis://127.0.0.1:{free_port()}/0", "--node", "worker@a")

    assert answer.returncode == 1
    assert "cannot read Redis" in answer.stderr
