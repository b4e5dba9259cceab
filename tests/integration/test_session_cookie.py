"""The session cookie: out of scripts' reach, not sent on cross-site requests, and HTTPS-only
in production."""

import pytest

from orderwire.config import Settings
from orderwire.local_redis import PrivateRedis
from web import create_app

pytestmark = pytest.mark.integration


def session_cookie(database_url: str, redis_url: str, **env: str) -> str:
    settings = Settings.from_env(
        {"DATABASE_URL": database_url, "REDIS_URL": redis_url, **env}
    )
    answer = create_app(settings).test_client().get("/")
    assert answer.status_code == 200
    [cookie] = [
        value for value in answer.headers.getlist("Set-Cookie") if value.startswith("session=")
    ]
    return cookie


def attributes(cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}


def test_the_session_cookie_is_http_only_and_same_site_lax(
    database_url: str, redis_server: PrivateRedis
) -> None:
    cookie = session_cookie(database_url, redis_server.url)
    assert "httponly" in attributes(cookie)
    assert "SameSite=Lax" in cookie
    assert "secure" not in attributes(cookie)  # development serves plain http://127.0.0.1


def test_in_production_the_session_cookie_is_also_secure(
    database_url: str, redis_server: PrivateRedis
) -> None:
    cookie = session_cookie(
        database_url, redis_server.url, ORDERWIRE_ENV="production", SECRET_KEY="p" * 48
    )
    assert {"httponly", "secure"} <= attributes(cookie)
    assert "SameSite=Lax" in cookie
