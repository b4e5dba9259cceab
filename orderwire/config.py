"""Settings from environment variables, with safe local defaults, validated at start-up.

A bad value raises `ConfigError` naming the variable, so a process stops with a
message that says what to fix instead of failing later somewhere else.
"""

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEVELOPMENT_SECRET_KEY = "orderwire-development-key-not-for-production"


class ConfigError(Exception):
    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low} and {high}, got {value}")
    return value


def safe_url(url: str) -> str:
    """A URL fit for logs, terminals and error messages, valid or not: any credentials
    (whatever comes before @) masked."""
    if "@" not in url:
        return url
    scheme, separator, _ = url.partition("://")
    prefix = f"{scheme}://" if separator else ""
    return f"{prefix}***@{url.rpartition('@')[2]}"


def _redis_url(env: Mapping[str, str]) -> str:
    url = env.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    shown = safe_url(url)
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss", "unix"):
        problem = f"must be a redis://, rediss:// or unix:// URL, got {shown!r}"
        raise ConfigError("REDIS_URL", problem)
    if parsed.scheme == "unix":
        if not parsed.path or parsed.path == "/":
            raise ConfigError("REDIS_URL", f"names no socket path: {shown!r}")
        return url
    try:
        parsed.port  # noqa: B018 - parsing the port validates it
    except ValueError:
        raise ConfigError("REDIS_URL", f"has an invalid port: {shown!r}") from None
    if not parsed.hostname:
        raise ConfigError("REDIS_URL", f"names no host: {shown!r}")
    database = parsed.path.strip("/")
    if database and not database.isdigit():
        raise ConfigError("REDIS_URL", f"names database {database!r}; use a number: {shown!r}")
    return url


def _trusted_proxies(env: Mapping[str, str]) -> tuple[tuple[str, ...], int]:
    """TRUSTED_PROXIES: addresses/CIDRs of the reverse proxies whose forwarded headers are
    believed, or a hop count (every peer is a proxy, N deep); (networks, hops), default none."""
    raw = (env.get("TRUSTED_PROXIES") or "").strip()
    if raw.isdigit():
        if not 1 <= int(raw) <= 10:
            raise ConfigError("TRUSTED_PROXIES", f"a hop count must be 1 to 10, got {raw}")
        return (), int(raw)
    networks = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            problem = f"{item!r} is not an address or CIDR like 10.0.0.5 or 10.0.0.0/24"
            raise ConfigError("TRUSTED_PROXIES", problem) from None
    return tuple(networks), 0


def _sentinels(env: Mapping[str, str]) -> tuple[tuple[tuple[str, int], ...], str | None]:
    """REDIS_SENTINELS=host:port,host:port with REDIS_SENTINEL_MASTER=name, both or neither."""
    raw = (env.get("REDIS_SENTINELS") or "").strip()
    master = (env.get("REDIS_SENTINEL_MASTER") or "").strip() or None
    if bool(raw) != bool(master):
        missing = "REDIS_SENTINEL_MASTER" if raw else "REDIS_SENTINELS"
        raise ConfigError(missing, "REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together")
    sentinels = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        host, _, port = item.rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ConfigError("REDIS_SENTINELS", f"{item!r} is not host:port")
        sentinels.append((host, int(port)))
    return tuple(sentinels), master


def _production_requires(env: Mapping[str, str]) -> None:
    """Production never falls back to a local default: a forgotten variable would otherwise
    give a host its own SQLite file or Redis, which looks healthy and runs nothing."""
    if not env.get("DATABASE_URL"):
        raise ConfigError("DATABASE_URL", "must be set explicitly in production")
    if not env.get("REDIS_URL") and not env.get("REDIS_SENTINELS"):
        problem = "must be set explicitly in production (or REDIS_SENTINELS and its master)"
        raise ConfigError("REDIS_URL", problem)
    if not env.get("SECRET_KEY"):
        problem = "must be set explicitly in production (the same on every web host)"
        raise ConfigError("SECRET_KEY", problem)


def var_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where local state lives (SQLite, the private Redis, Flower's local credentials)."""
    env = os.environ if env is None else env
    return Path(env.get("ORDERWIRE_VAR") or Path.cwd() / "var").resolve()


def _database_url(env: Mapping[str, str]) -> str:
    default = f"sqlite:///{var_dir(env) / 'orderwire.db'}"
    url = env.get("DATABASE_URL") or default
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        # Bare postgresql:// would pick psycopg2 (and postgres:// nothing); we ship psycopg 3.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        problem = f"is not a database URL like postgresql://host/db: {safe_url(url)!r}"
        raise ConfigError("DATABASE_URL", problem) from None
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError("DATABASE_URL", f"must be SQLite or PostgreSQL, got {backend!r}")
    return url


def _secret_key(env: Mapping[str, str], production: bool) -> str:
    key = env.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY
    if production and key == DEVELOPMENT_SECRET_KEY:
        raise ConfigError("SECRET_KEY", "production needs its own key, not the development one")
    if production and len(key) < 32:
        raise ConfigError("SECRET_KEY", "must be at least 32 characters in production")
    return key


def _basic_auth(env: Mapping[str, str]) -> str | None:
    value = env.get("FLOWER_BASIC_AUTH") or None
    if value is not None:
        user, _, password = value.partition(":")
        if not user or not password:
            raise ConfigError("FLOWER_BASIC_AUTH", "must be user:password")
    return value


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    origins = []
    listed = (item.strip() for item in env.get("ALLOWED_ORIGINS", "").split(","))
    for origin in filter(None, listed):
        parsed = urlparse(origin)
        has_path = parsed.path not in ("", "/") or parsed.query or parsed.fragment
        if parsed.scheme not in ("http", "https") or not parsed.netloc or has_path:
            raise ConfigError("ALLOWED_ORIGINS", f"{origin!r} is not an origin like https://host")
        origins.append(origin.rstrip("/"))
    return tuple(origins)


def _rate_limit(env: Mapping[str, str]) -> tuple[int, int] | None:
    """ORDERWIRE_RATE_LIMIT: commands per client per window, "COUNT/SECONDS", or "off"."""
    raw = (env.get("ORDERWIRE_RATE_LIMIT") or "1200/60").strip().lower()
    if raw == "off":
        return None
    count, slash, seconds = raw.partition("/")
    if not (slash and count.isdigit() and seconds.isdigit()):
        problem = f"must be COUNT/SECONDS like 120/60, or off; got {raw!r}"
        raise ConfigError("ORDERWIRE_RATE_LIMIT", problem)
    if int(count) < 1 or not 1 <= int(seconds) <= 86400:
        problem = f"needs COUNT >= 1 and SECONDS 1 to 86400; got {raw!r}"
        raise ConfigError("ORDERWIRE_RATE_LIMIT", problem)
    return int(count), int(seconds)


def _currency(env: Mapping[str, str]) -> str:
    """ORDERWIRE_CURRENCY: the ISO 4217 code amounts are shown in (the page's formatting)."""
    code = (env.get("ORDERWIRE_CURRENCY") or "EUR").strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        problem = f"must be a 3-letter ISO 4217 code like EUR, got {code!r}"
        raise ConfigError("ORDERWIRE_CURRENCY", problem)
    return code


def _log_level(env: Mapping[str, str]) -> str:
    level = (env.get("LOG_LEVEL") or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        problem = f"must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {level!r}"
        raise ConfigError("LOG_LEVEL", problem)
    return level


@dataclass(frozen=True)
class Settings:
    redis_url: str
    database_url: str
    secret_key: str
    environment: str = "development"
    port: int = 5000
    flower_port: int = 5555
    flower_basic_auth: str | None = None
    allowed_origins: tuple[str, ...] = ()
    log_level: str = "INFO"
    command_max_attempts: int = 5
    # Sweeper: how long a command may sit accepted (never picked up) or running without its
    # worker renewing the lease (the worker died; see lease_renew_seconds).
    sweep_accepted_after: int = 30
    sweep_running_after: int = 20
    # Celery: a task is killed after task_time_limit; the visibility timeout must exceed it.
    task_soft_time_limit: int = 60
    task_time_limit: int = 90
    visibility_timeout: int = 300
    websocket_queue_size: int = 1000
    heartbeat_seconds: int = 15
    websocket_ping_seconds: int = 25
    history_length: int = 10_000
    # Entries the durable feed `orderwire:events` keeps at least (approximate trimming).
    feed_maxlen: int = 1_000_000
    # Commands per client address per window (web/rate_limit.py); None: no limit. From the
    # environment it defaults to 1200/60; settings built in code (tests) set it if they want it.
    rate_limit: tuple[int, int] | None = None
    # Each worker proves it consumes by sending itself a probe this often (worker_liveness).
    worker_probe_seconds: int = 5
    currency: str = "EUR"
    # Reverse proxies whose X-Forwarded-For/-Proto/-Host are believed (web/proxies.py):
    # CIDRs, or a hop count; neither: no forwarded header is believed.
    trusted_proxy_networks: tuple[str, ...] = ()
    trusted_proxy_hops: int = 0
    # Redis Sentinel (orderwire/redis_clients.py): every Redis user follows the master.
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    redis_sentinel_master: str | None = None
    redis_sentinel_password: str | None = None
    # A worker renews the lease (touched_at) of the commands it runs this often; the
    # sweeper takes a running command whose lease is older than sweep_running_after.
    lease_renew_seconds: int = 5
    # The relay deletes published events and finished commands older than this (days).
    retention_days: int = 7
    # Attempts an after-commit subscriber gets at one event before it is parked.
    delivery_max_attempts: int = 10

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        environment = env.get("ORDERWIRE_ENV") or "development"
        if environment not in ("development", "production", "test"):
            problem = f"must be development, production or test, got {environment!r}"
            raise ConfigError("ORDERWIRE_ENV", problem)
        production = environment == "production"
        if production:
            _production_requires(env)
        networks, hops = _trusted_proxies(env)
        sentinels, sentinel_master = _sentinels(env)
        if sentinels and (env.get("REDIS_URL") or "").startswith("rediss://"):
            # Not built: TLS to the data nodes found through Sentinels. Say so at start-up
            # instead of connecting in clear to what the operator meant to reach over TLS.
            problem = "rediss:// together with REDIS_SENTINELS is not supported; use redis://"
            raise ConfigError("REDIS_URL", problem)
        lease = _integer(env, "ORDERWIRE_LEASE_RENEW_SECONDS", 5, 1, 3600)
        running_after = _integer(env, "ORDERWIRE_SWEEP_RUNNING_AFTER", 20, 1, 86400)
        if running_after < 3 * lease:
            # A live worker must get at least two renewals in before its lease looks expired.
            problem = f"must be at least 3 x ORDERWIRE_LEASE_RENEW_SECONDS ({3 * lease})"
            raise ConfigError("ORDERWIRE_SWEEP_RUNNING_AFTER", problem)
        return cls(
            redis_url=_redis_url(env),
            database_url=_database_url(env),
            secret_key=_secret_key(env, production),
            environment=environment,
            port=_integer(env, "PORT", 5000, 1, 65535),
            flower_port=_integer(env, "FLOWER_PORT", 5555, 1, 65535),
            flower_basic_auth=_basic_auth(env),
            allowed_origins=_origins(env),
            log_level=_log_level(env),
            command_max_attempts=_integer(env, "ORDERWIRE_COMMAND_MAX_ATTEMPTS", 5, 1, 100),
            sweep_accepted_after=_integer(env, "ORDERWIRE_SWEEP_ACCEPTED_AFTER", 30, 1, 86400),
            sweep_running_after=running_after,
            heartbeat_seconds=_integer(env, "ORDERWIRE_HEARTBEAT_SECONDS", 15, 1, 3600),
            feed_maxlen=_integer(env, "ORDERWIRE_FEED_MAXLEN", 1_000_000, 1000, 1_000_000_000),
            websocket_queue_size=_integer(env, "ORDERWIRE_WEBSOCKET_QUEUE", 1000, 1, 1_000_000),
            rate_limit=_rate_limit(env),
            websocket_ping_seconds=_integer(env, "ORDERWIRE_WEBSOCKET_PING_SECONDS", 25, 1, 3600),
            worker_probe_seconds=_integer(env, "ORDERWIRE_WORKER_PROBE_SECONDS", 5, 1, 60),
            currency=_currency(env),
            trusted_proxy_networks=networks,
            trusted_proxy_hops=hops,
            redis_sentinels=sentinels,
            redis_sentinel_master=sentinel_master,
            redis_sentinel_password=env.get("REDIS_SENTINEL_PASSWORD") or None,
            lease_renew_seconds=lease,
            retention_days=_integer(env, "ORDERWIRE_RETENTION_DAYS", 7, 1, 3650),
            delivery_max_attempts=_integer(env, "ORDERWIRE_DELIVERY_MAX_ATTEMPTS", 10, 1, 1000),
        )
