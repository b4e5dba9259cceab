"""Without REDIS_URL, the `orderwire` commands use `make run`'s private Redis, whose
address the launcher records in var/redis-url; a stale record is ignored, and said so."""

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from orderwire import private_redis_address
from orderwire.local_redis import PrivateRedis, free_port
from orderwire.outbox.envelope import channel_for, dumps, make_envelope
from tools.harness.waiting import wait_for

pytestmark = pytest.mark.integration


def environment_without_redis_url(var: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env["ORDERWIRE_VAR"] = str(var)
    return env


def test_tail_without_redis_url_follows_the_recorded_private_redis(
    tmp_path: Path, redis_server: PrivateRedis, redis_client: redis.Redis
) -> None:
    private_redis_address.record(tmp_path, redis_server.url)
    envelope = make_envelope(
        event_id=str(uuid.uuid4()), event_type="OrderShipped", occurred_at=datetime.now(UTC),
        request_id="r-1", aggregate_id="o-1", aggregate_version=3, data={"order_id": "o-1"},
    )
    patterns_before = redis_client.pubsub_numpat()
    tail = subprocess.Popen(
        [sys.executable, "-m", "orderwire.cli", "tail", "--limit", "1"],
        env=environment_without_redis_url(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: redis_client.pubsub_numpat() > patterns_before, timeout=30,
                 what="tail to PSUBSCRIBE on the recorded Redis")
        redis_client.publish(channel_for("OrderShipped"), dumps(envelope))
        out, err = tail.communicate(timeout=30)
    finally:
        tail.kill()
        tail.wait()

    assert tail.returncode == 0, err
    assert json.loads(out) == envelope
    assert f"using make run's Redis from {tmp_path / 'redis-url'}" in err


def test_a_stale_record_is_ignored_with_a_note(tmp_path: Path) -> None:
    stale = f"redis://127.0.0.1:{free_port()}/0"
    private_redis_address.record(tmp_path, stale)

    checked = subprocess.run(
        [sys.executable, "-m", "orderwire.cli", "check-config"],
        env=environment_without_redis_url(tmp_path),
        capture_output=True, text=True, timeout=60, check=False,
    )

    assert checked.returncode == 0, checked.stderr
    assert f"ignoring {tmp_path / 'redis-url'}: nothing answers at {stale}" in checked.stderr


def test_redis_url_set_in_the_environment_wins_over_the_record(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    private_redis_address.record(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    env = {**environment_without_redis_url(tmp_path), "REDIS_URL": redis_server.url}

    checked = subprocess.run(
        [sys.executable, "-m", "orderwire.cli", "check-config"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )

    assert checked.returncode == 0 and checked.stderr == ""
