"""The one place orderwire's Redis connections are made: a plain URL or a Sentinel set.

With REDIS_SENTINELS and REDIS_SENTINEL_MASTER, every Redis user follows the current
master: the clients made here ask the Sentinels where it is, on every new connection
and again after a failover closes the old ones (redis-py's SentinelConnectionPool);
Celery's broker (and Flower, which reads the same Celery app) gets kombu's
`sentinel://` transport with the same Sentinels and master name.

REDIS_URL still matters with Sentinels: its password (and user) and database number
are the data nodes' (its host and port are not used). REDIS_SENTINEL_PASSWORD is the
Sentinels' own password, when they have one.
"""

from typing import Any
from urllib.parse import quote

import redis
from redis.connection import parse_url
from redis.sentinel import Sentinel

from orderwire.config import Settings, safe_url

# Short timeouts: a dead master must be noticed in seconds, so that the next connection
# asks the Sentinels again instead of waiting for the kernel to give up.
DEFAULTS: dict[str, Any] = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "health_check_interval": 30,
}


def redis_client(settings: Settings, **options: Any) -> redis.Redis:
    """A client for orderwire's Redis (publisher, live hub, history, rate limit, metrics,
    `tail`). `options` override the connection defaults above."""
    chosen = {**DEFAULTS, **options}
    if not settings.redis_sentinels:
        return redis.Redis.from_url(settings.redis_url, **chosen)
    sentinel = Sentinel(
        list(settings.redis_sentinels),
        sentinel_kwargs=_sentinel_options(settings),
        **_data_node_credentials(settings),
    )
    assert settings.redis_sentinel_master is not None  # config checks they come together
    return sentinel.master_for(settings.redis_sentinel_master, **chosen)


def celery_broker(settings: Settings) -> tuple[str, dict[str, Any]]:
    """Celery's broker URL and the transport options that go with it."""
    if not settings.redis_sentinels:
        return settings.redis_url, {}
    credentials = _data_node_credentials(settings)
    auth = ""
    if credentials.get("password"):
        auth = f"{quote(credentials.get('username') or '', safe='')}:"
        auth += f"{quote(credentials['password'], safe='')}@"
    database = credentials.get("db", 0)
    url = ";".join(
        f"sentinel://{auth}{_host(host)}:{port}/{database}"
        for host, port in settings.redis_sentinels
    )
    options = {
        "master_name": settings.redis_sentinel_master,
        "sentinel_kwargs": _sentinel_options(settings),
    }
    return url, options


def describe(settings: Settings) -> str:
    """Where Redis is, for start-up banners and logs (no passwords)."""
    if not settings.redis_sentinels:
        return safe_url(settings.redis_url)
    listed = ",".join(f"{_host(host)}:{port}" for host, port in settings.redis_sentinels)
    return f"master {settings.redis_sentinel_master!r} of Sentinels {listed}"


def _sentinel_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {"socket_connect_timeout": 1, "socket_timeout": 2}
    if settings.redis_sentinel_password:
        options["password"] = settings.redis_sentinel_password
    return options


def _data_node_credentials(settings: Settings) -> dict[str, Any]:
    parsed = parse_url(settings.redis_url) if settings.redis_url.startswith("redis") else {}
    return {key: parsed[key] for key in ("username", "password", "db") if parsed.get(key)}


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
