"""Every worker is its own Celery node, even on hosts that share a hostname."""

import uuid

import pytest
import redis

from worker.node_names import KEY_PREFIX, NodeNameClaim, suffixed

pytestmark = pytest.mark.integration


def a_node() -> str:
    return f"worker@host-{uuid.uuid4().hex[:8]}"


def test_the_first_worker_keeps_its_name_and_a_second_one_gets_its_own(
    redis_client: redis.Redis,
) -> None:
    wanted = a_node()
    first = NodeNameClaim(redis_client).claim(wanted)
    second = NodeNameClaim(redis_client).claim(wanted)

    assert first == wanted
    assert second != wanted
    assert second.startswith("worker-") and second.endswith(wanted.partition("@")[2])


def test_a_name_whose_worker_is_gone_is_free_again(redis_client: redis.Redis) -> None:
    wanted = a_node()
    assert NodeNameClaim(redis_client, claim_seconds=0.2).claim(wanted) == wanted
    redis_client.delete(KEY_PREFIX + wanted)  # the claim ran out: nobody renewed it
    assert NodeNameClaim(redis_client).claim(wanted) == wanted


def test_renewing_keeps_the_name_and_takes_it_back_after_redis_lost_it(
    redis_client: redis.Redis,
) -> None:
    wanted = a_node()
    holder = NodeNameClaim(redis_client)
    holder.claim(wanted)
    assert holder.renew()
    redis_client.delete(KEY_PREFIX + wanted)  # a Redis that restarted empty
    assert holder.renew()
    assert NodeNameClaim(redis_client).claim(wanted) != wanted


def test_a_renewal_never_takes_the_name_from_another_live_worker(
    redis_client: redis.Redis,
) -> None:
    wanted = a_node()
    holder = NodeNameClaim(redis_client)
    holder.claim(wanted)
    redis_client.set(KEY_PREFIX + wanted, "someone-else")
    assert not holder.renew()
    assert redis_client.get(KEY_PREFIX + wanted) == b"someone-else"


def test_without_redis_a_worker_takes_a_name_nobody_else_can_have() -> None:
    unreachable = redis.Redis(port=1, socket_connect_timeout=0.2)
    wanted = a_node()
    assert NodeNameClaim(unreachable).claim(wanted) != wanted


def test_a_bare_host_gets_celery_s_default_name_part() -> None:
    assert suffixed("box.example").startswith("celery-")
    assert suffixed("box.example").endswith("@box.example")
