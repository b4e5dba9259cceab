"""Every Redis user gets its connection from orderwire/redis_clients.py: a URL, or Sentinels."""

from redis.sentinel import SentinelConnectionPool

from orderwire.config import Settings
from orderwire.redis_clients import celery_broker, describe, redis_client

SENTINELS = {"REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2:26380", "REDIS_SENTINEL_MASTER": "orders"}


def test_without_sentinels_the_broker_is_the_redis_url() -> None:
    settings = Settings.from_env({"REDIS_URL": "rediss://:pw@cache.internal:6380/2"})
    assert celery_broker(settings) == ("rediss://:pw@cache.internal:6380/2", {})
    assert describe(settings) == "rediss://***@cache.internal:6380/2"


def test_with_sentinels_celery_uses_kombu_s_sentinel_transport() -> None:
    settings = Settings.from_env(
        {**SENTINELS, "REDIS_URL": "redis://:data%2Fpw@ignored:1/3", "REDIS_SENTINEL_PASSWORD": "s"}
    )
    url, options = celery_broker(settings)
    assert url == "sentinel://:data%2Fpw@10.0.0.1:26379/3;sentinel://:data%2Fpw@10.0.0.2:26380/3"
    assert options["master_name"] == "orders"
    assert options["sentinel_kwargs"]["password"] == "s"
    assert "data" not in describe(settings) and "orders" in describe(settings)


def test_with_sentinels_every_client_asks_them_for_the_master() -> None:
    client = redis_client(Settings.from_env(SENTINELS))
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "orders"
    assert [c.connection_pool.connection_kwargs["port"] for c in pool.sentinel_manager.sentinels] \
        == [26379, 26380]
