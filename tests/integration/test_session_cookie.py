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


def test_the_cookie_is_renewed_once_a_day_not_on_every_response(
    database_url: str, redis_server: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    import web.sessions

    settings = Settings.from_env({"DATABASE_URL": database_url, "REDIS_URL": redis_server.url})
    client = create_app(settings).test_client()
    now = [1_800_000_000.0]
    monkeypatch.setattr(web.sessions.time, "time", lambda: now[0])

    def sets_cookie() -> bool:
        answer = client.get("/")
        assert answer.status_code == 200
        return any(v.startswith("session=") for v in answer.headers.getlist("Set-Cookie"))

    assert sets_cookie()  # the new session
    now[0] += 3600
    assert not sets_cookie()  # the same cookie is still good for 30 days
    now[0] += 24 * 3600
    assert sets_cookie()  # a day on: renewed, its 30 days start again
    with client.session_transaction() as session:
        assert session["renewed"] == int(now[0]) and session.permanent
    assert not sets_cookie()
