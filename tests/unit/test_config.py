"""Settings from the environment: safe local defaults, and a bad value stops start-up with
an error that names the variable (and never prints a password)."""

from pathlib import Path

import pytest

from orderwire.config import DEVELOPMENT_SECRET_KEY, ConfigError, Settings

PRODUCTION_KEY = "k" * 40


def settings(**env: str) -> Settings:
    return Settings.from_env(env)


def refusal(**env: str) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    return raised.value


def test_an_empty_environment_gives_local_development_defaults(tmp_path: Path) -> None:
    chosen = settings(ORDERWIRE_VAR=str(tmp_path))

    assert chosen.environment == "development" and not chosen.production
    assert chosen.redis_url == "redis://127.0.0.1:6379/0"
    assert chosen.database_url == f"sqlite:///{tmp_path.resolve() / 'orderwire.db'}"
    assert chosen.secret_key == DEVELOPMENT_SECRET_KEY
    assert (chosen.port, chosen.flower_port) == (5000, 5555)
    assert chosen.flower_basic_auth is None
    assert chosen.allowed_origins == ()
    assert chosen.log_level == "INFO"
    assert chosen.feed_maxlen == 1_000_000


def test_the_feed_keeps_as_many_entries_as_it_is_told() -> None:
    assert settings(ORDERWIRE_FEED_MAXLEN="250000").feed_maxlen == 250_000


def test_a_subscriber_gets_ten_attempts_at_an_event_unless_told_otherwise() -> None:
    assert settings().delivery_max_attempts == 10
    assert settings(ORDERWIRE_DELIVERY_MAX_ATTEMPTS="3").delivery_max_attempts == 3


def test_empty_variables_count_as_unset() -> None:
    chosen = settings(REDIS_URL="", PORT="", LOG_LEVEL="", ORDERWIRE_ENV="", FLOWER_BASIC_AUTH="")
    assert chosen.redis_url == "redis://127.0.0.1:6379/0"
    assert chosen.port == 5000 and chosen.log_level == "INFO"
    assert chosen.environment == "development" and chosen.flower_basic_auth is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REDIS_URL", "http://127.0.0.1:6379/0"),
        ("REDIS_URL", "127.0.0.1:6379"),
        ("REDIS_URL", "redis://127.0.0.1:notaport/0"),
        ("REDIS_URL", "redis://127.0.0.1:99999/0"),
        ("REDIS_URL", "redis://:6379/0"),
        ("REDIS_URL", "redis://127.0.0.1:6379/cache"),
        ("REDIS_URL", "unix://"),
        ("DATABASE_URL", "not a url"),
        ("DATABASE_URL", "mysql://root@127.0.0.1/orders"),
        ("PORT", "http"),
        ("PORT", "0"),
        ("PORT", "65536"),
        ("FLOWER_PORT", "-1"),
        ("FLOWER_BASIC_AUTH", "admin"),
        ("FLOWER_BASIC_AUTH", ":secret"),
        ("FLOWER_BASIC_AUTH", "admin:"),
        ("ALLOWED_ORIGINS", "example.com"),
        ("ALLOWED_ORIGINS", "https://ok.example, ftp://files.example"),
        ("ALLOWED_ORIGINS", "https://example.com/app"),
        ("LOG_LEVEL", "LOUD"),
        ("ORDERWIRE_ENV", "staging"),
        ("ORDERWIRE_COMMAND_MAX_ATTEMPTS", "0"),
        ("ORDERWIRE_DELIVERY_MAX_ATTEMPTS", "0"),
        ("ORDERWIRE_DELIVERY_MAX_ATTEMPTS", "many"),
        ("ORDERWIRE_HEARTBEAT_SECONDS", "soon"),
        ("ORDERWIRE_FEED_MAXLEN", "999"),
        ("ORDERWIRE_FEED_MAXLEN", "1e6"),
        ("ORDERWIRE_CURRENCY", "euro"),
        ("ORDERWIRE_CURRENCY", "€"),
        ("ORDERWIRE_CURRENCY", "E1R"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(variable: str, value: str) -> None:
    error = refusal(**{variable: value})
    assert error.variable == variable
    assert str(error).startswith(f"{variable}: ")


def test_the_currency_defaults_to_eur_and_takes_any_iso_code() -> None:
    assert Settings.from_env({}).currency == "EUR"
    assert Settings.from_env({"ORDERWIRE_CURRENCY": " usd "}).currency == "USD"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "postgresql//orderwire:hunter2@db.internal/orders"),
        ("REDIS_URL", "http://:hunter2@cache.internal:6379/0"),
        ("REDIS_URL", "redis://:hunter2@cache.internal:port/0"),
    ],
)
def test_a_refused_url_is_shown_without_its_password(variable: str, value: str) -> None:
    error = refusal(**{variable: value})
    assert error.variable == variable
    assert "hunter2" not in str(error)


# Production is given every dependency explicitly; these tests take one away at a time.
PRODUCTION = {
    "ORDERWIRE_ENV": "production",
    "DATABASE_URL": "postgresql://orderwire@db.internal/orderwire",
    "REDIS_URL": "redis://cache.internal:6379/0",
}


def test_production_refuses_to_start_without_its_own_secret_key() -> None:
    assert refusal(**PRODUCTION).variable == "SECRET_KEY"
    error = refusal(**PRODUCTION, SECRET_KEY=DEVELOPMENT_SECRET_KEY)
    assert error.variable == "SECRET_KEY" and "development" in str(error)


def test_production_refuses_a_short_secret_key() -> None:
    error = refusal(**PRODUCTION, SECRET_KEY="short-and-guessable")
    assert error.variable == "SECRET_KEY"
    assert DEVELOPMENT_SECRET_KEY not in str(error) and "short-and-guessable" not in str(error)


def test_production_starts_with_a_long_key_of_its_own() -> None:
    chosen = settings(**PRODUCTION, SECRET_KEY=PRODUCTION_KEY)
    assert chosen.production and chosen.secret_key == PRODUCTION_KEY


@pytest.mark.parametrize("forgotten", ["DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_guess_a_forgotten_dependency(forgotten: str) -> None:
    env = {**PRODUCTION, "SECRET_KEY": PRODUCTION_KEY, forgotten: ""}
    error = refusal(**env)
    assert error.variable == forgotten and "explicitly" in str(error)


def test_production_takes_a_sentinel_set_instead_of_a_redis_url() -> None:
    env = {**PRODUCTION, "SECRET_KEY": PRODUCTION_KEY, "REDIS_URL": ""}
    chosen = settings(**env, REDIS_SENTINELS="10.0.0.1:26379, [fd00::2]:26379",
                      REDIS_SENTINEL_MASTER="orders", REDIS_SENTINEL_PASSWORD="s3cret")
    assert chosen.redis_sentinels == (("10.0.0.1", 26379), ("fd00::2", 26379))
    assert chosen.redis_sentinel_master == "orders"
    assert chosen.redis_sentinel_password == "s3cret"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"REDIS_SENTINELS": "10.0.0.1:26379"}, "REDIS_SENTINEL_MASTER"),
        ({"REDIS_SENTINEL_MASTER": "orders"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "10.0.0.1", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "h:99999", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS"),
        ({"TRUSTED_PROXIES": "10.0.0.0/33"}, "TRUSTED_PROXIES"),
        ({"TRUSTED_PROXIES": "proxy.internal"}, "TRUSTED_PROXIES"),
        ({"TRUSTED_PROXIES": "0"}, "TRUSTED_PROXIES"),
        ({"TRUSTED_PROXIES": "11"}, "TRUSTED_PROXIES"),
        ({"ORDERWIRE_SWEEP_RUNNING_AFTER": "10"}, "ORDERWIRE_SWEEP_RUNNING_AFTER"),
        ({"REDIS_SENTINELS": "h:1", "REDIS_SENTINEL_MASTER": "m", "REDIS_URL": "rediss://h"},
         "REDIS_URL"),
    ],
)
def test_bad_deployment_settings_are_refused_by_name(env: dict[str, str], variable: str) -> None:
    assert refusal(**env).variable == variable


def test_trusted_proxies_take_addresses_cidrs_or_a_hop_count() -> None:
    listed = settings(TRUSTED_PROXIES="10.0.0.5, 10.1.0.0/16,fd00::1")
    assert listed.trusted_proxy_networks == ("10.0.0.5/32", "10.1.0.0/16", "fd00::1/128")
    assert listed.trusted_proxy_hops == 0
    counted = settings(TRUSTED_PROXIES="2")
    assert (counted.trusted_proxy_networks, counted.trusted_proxy_hops) == ((), 2)
    assert settings().trusted_proxy_networks == () and settings().trusted_proxy_hops == 0


def test_development_accepts_any_secret_key() -> None:
    assert settings(SECRET_KEY="dev").secret_key == "dev"


def test_allowed_origins_are_a_comma_separated_list_of_origins() -> None:
    chosen = settings(ALLOWED_ORIGINS=" https://shop.example , http://localhost:8080/ ,,")
    assert chosen.allowed_origins == ("https://shop.example", "http://localhost:8080")


def test_a_bare_postgresql_url_is_given_the_psycopg_3_driver() -> None:
    chosen = settings(DATABASE_URL="postgresql://orderwire@db.internal/orders")
    assert chosen.database_url == "postgresql+psycopg://orderwire@db.internal/orders"
    chosen = settings(DATABASE_URL="postgres://orderwire@db.internal/orders")
    assert chosen.database_url == "postgresql+psycopg://orderwire@db.internal/orders"


@pytest.mark.parametrize(
    "url", ["redis://cache:6379/0", "rediss://:pw@cache:6380", "unix:///run/redis.sock"]
)
def test_redis_urls_of_every_supported_kind_are_accepted(url: str) -> None:
    assert settings(REDIS_URL=url).redis_url == url


def test_log_level_is_case_insensitive() -> None:
    assert settings(LOG_LEVEL="debug").log_level == "DEBUG"


def test_flower_credentials_are_user_and_password() -> None:
    assert settings(FLOWER_BASIC_AUTH="admin:s3cret").flower_basic_auth == "admin:s3cret"
