"""Security at the edges: CSRF on the forms, the websocket's Origin check, sessions kept apart,
user text escaped in server-rendered pages, and the per-client rate limit on commands."""

import json
import random
import re
import uuid
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from orderwire.bootstrap import Orderwire, bootstrap
from orderwire.config import ConfigError, Settings
from orderwire.local_redis import PrivateRedis, free_port
from tests.payloads import ORDER, a_key, form_fields
from tests.recorded_commands import command_count, command_row, execute_request, recorded_command
from tools.harness.api_client import ApiClient
from web import create_app
from web.rate_limit import RateLimit, RedisRateLimiter

pytestmark = pytest.mark.integration

XSS = "<img src=x onerror=alert(1)>"


def settings_for(database_url: str, redis_url: str, **changes: Any) -> Settings:
    return Settings(redis_url=redis_url, database_url=database_url, secret_key="test-only",
                    environment="test", **changes)


@pytest.fixture
def services(database_url: str, engine: Engine, redis_server: PrivateRedis) -> Orderwire:
    return bootstrap(settings_for(database_url, redis_server.url), engine=engine)


@pytest.fixture
def app(services: Orderwire) -> Flask:
    return create_app(services.settings, services=services)


def browser(app: Flask) -> FlaskClient:
    """A client with its own session cookie, as a browser gets from GET /."""
    client = app.test_client()
    assert client.get("/").status_code == 200
    return client


def csrf_token(client: FlaskClient, path: str = "/") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


def api(client: FlaskClient, address: str = "127.0.0.1") -> ApiClient:
    """The API as a browser at `address` sees it."""
    return ApiClient(client, key_prefix="sec", transport={"environ_base": {"REMOTE_ADDR": address}})


def place_and_run(client: FlaskClient, services: Orderwire, body: Any = ORDER) -> str:
    """Place an order through the API and carry it out in-process, as a worker would."""
    answer = api(client).post("/api/orders", body)
    assert answer.status_code == 202, answer.get_json()
    assert str(execute_request(services, answer.get_json()["request_id"]).status) == "succeeded"
    return answer.get_json()["order_id"]


def form_order(token: str | None, name: str = "Ada") -> dict[str, str]:
    fields = {**form_fields(name, unit_price="2.50"), "idempotency_key": a_key("form")}
    if token is not None:
        fields["csrf_token"] = token
    return fields


# --- CSRF ---------------------------------------------------------------------------------


def test_the_order_form_without_a_csrf_token_is_400_and_records_nothing(
    app: Flask, engine: Engine
) -> None:
    client = browser(app)
    before = command_count(engine)
    fields = form_order(token=None)

    answer = client.post("/orders", data=fields)

    assert answer.status_code == 400
    assert command_count(engine) == before
    assert command_row(engine, fields["idempotency_key"]) is None


def test_a_csrf_token_from_another_session_is_refused(app: Flask, engine: Engine) -> None:
    mine, attackers = browser(app), browser(app)
    stolen = csrf_token(attackers)
    before = command_count(engine)

    answer = mine.post("/orders", data=form_order(stolen))

    assert answer.status_code == 400
    assert command_count(engine) == before


def test_the_order_form_with_its_token_is_accepted(app: Flask, engine: Engine) -> None:
    client = browser(app)
    fields = form_order(csrf_token(client))
    answer = client.post("/orders", data=fields)
    assert answer.status_code == 303
    assert recorded_command(engine, fields["idempotency_key"])["command"] == "PlaceOrder"


@pytest.mark.parametrize("action", ["pay", "ship", "cancel"])
def test_order_action_forms_without_a_token_are_400_and_record_nothing(
    app: Flask, engine: Engine, action: str
) -> None:
    client = browser(app)
    before = command_count(engine)
    answer = client.post(f"/orders/{uuid.uuid4()}/{action}",
                         data={"reason": "no", "idempotency_key": a_key("form")})
    assert answer.status_code == 400
    assert command_count(engine) == before


# --- the websocket's Origin -----------------------------------------------------------------


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://localhost.evil.example", "null", "http://localhost:1"]
)
def test_a_cross_site_websocket_handshake_is_refused_with_403(app: Flask, origin: str) -> None:
    client = browser(app)
    answer = client.get("/ws", headers={
        "Origin": origin, "Connection": "Upgrade", "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    })
    assert answer.status_code == 403


# --- sessions -------------------------------------------------------------------------------


def test_another_session_does_not_list_my_orders_or_notifications(
    app: Flask, services: Orderwire
) -> None:
    me, stranger = browser(app), browser(app)
    order_id = place_and_run(me, services)

    assert [o["order_id"] for o in ApiClient(me).orders()] == [order_id]
    assert ApiClient(stranger).orders() == []
    assert stranger.get("/api/notifications").get_json()["notifications"] == []
    assert order_id not in stranger.get("/").get_data(as_text=True)
    assert me.get("/api/notifications").get_json()["notifications"]


def test_a_session_cookie_cannot_be_forged_without_the_secret_key(
    app: Flask, services: Orderwire
) -> None:
    me = browser(app)
    order_id = place_and_run(me, services)
    forger = app.test_client()
    session = me.get_cookie("session")
    assert session is not None
    forger.set_cookie("session", session.value[:-2] + "xx")
    assert order_id not in json.dumps(forger.get("/api/orders").get_json())


# --- escaping -------------------------------------------------------------------------------


def test_markup_typed_by_a_user_is_escaped_on_the_index_and_order_pages(
    app: Flask, services: Orderwire
) -> None:
    client = browser(app)
    body = {"customer_name": XSS, "lines": [{"product": XSS, "quantity": 1, "unit_price": "1"}]}
    order_id = place_and_run(client, services, body)

    for path in ("/", f"/orders/{order_id}"):
        page = client.get(path).get_data(as_text=True)
        assert XSS not in page, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in page, path


def test_markup_echoed_back_into_a_form_with_errors_is_escaped(app: Flask) -> None:
    client = browser(app)
    fields = {**form_order(csrf_token(client), name=XSS), "unit_price": XSS}
    page = client.post("/orders", data=fields).get_data(as_text=True)
    assert XSS not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


# --- the rate limit ---------------------------------------------------------------------------


# The real clock drives the limiter's fixed windows here: a day-long window makes a test
# that straddles a window boundary (and sees its counter reset) a one-in-100,000 event.
DAY = 86400


def an_address() -> str:
    """A random client address, so that tests never share a rate-limit counter."""
    return "10." + ".".join(str(random.randrange(256)) for _ in range(3))


def limited_app(database_url: str, engine: Engine, redis_url: str, rate: tuple[int, int]) -> Flask:
    settings = settings_for(database_url, redis_url, rate_limit=rate)
    return create_app(settings, services=bootstrap(settings, engine=engine))


def test_commands_over_the_limit_get_429_with_retry_after_and_leave_nothing(
    database_url: str, engine: Engine, redis_server: PrivateRedis
) -> None:
    client = limited_app(database_url, engine, redis_server.url, (3, DAY)).test_client()
    address = an_address()
    order_id = str(uuid.uuid4())
    allowed = [
        api(client, address).post("/api/orders", {**ORDER, "order_id": order_id}).status_code,
        api(client, address).post(f"/api/orders/{order_id}/pay", {}).status_code,
        api(client, address).post(f"/api/orders/{order_id}/cancel", {"reason": "x"}).status_code,
    ]
    before, key = command_count(engine), a_key("limited")

    refused = api(client, address).post("/api/orders", ORDER, key=key)

    assert allowed == [202, 202, 202]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= DAY
    error = refused.get_json()["error"]
    assert error["code"] == "rate_limited" and f"3 per {DAY}" in error["message"]
    assert command_count(engine) == before and command_row(engine, key) is None


def test_the_limit_is_shared_by_two_web_processes_on_one_redis(
    database_url: str, engine: Engine, redis_server: PrivateRedis
) -> None:
    first = limited_app(database_url, engine, redis_server.url, (4, DAY)).test_client()
    second = limited_app(database_url, engine, redis_server.url, (4, DAY)).test_client()
    address = an_address()

    statuses = [api(web, address).post("/api/orders", ORDER).status_code
                for web in (first, second, first, second, first, second)]

    assert statuses == [202, 202, 202, 202, 429, 429]


def test_the_limit_is_per_client_and_queries_are_not_counted(
    database_url: str, engine: Engine, redis_server: PrivateRedis
) -> None:
    client = limited_app(database_url, engine, redis_server.url, (1, DAY)).test_client()
    busy, other = an_address(), an_address()
    assert api(client, busy).post("/api/orders", ORDER).status_code == 202
    assert api(client, busy).post("/api/orders", ORDER).status_code == 429
    assert client.get("/api/orders", environ_base={"REMOTE_ADDR": busy}).status_code == 200
    assert api(client, other).post("/api/orders", ORDER).status_code == 202


def test_form_posts_count_against_the_same_limit(
    database_url: str, engine: Engine, redis_server: PrivateRedis
) -> None:
    app = limited_app(database_url, engine, redis_server.url, (1, DAY))
    client, address = browser(app), an_address()
    token = csrf_token(client)
    assert api(client, address).post("/api/orders", ORDER).status_code == 202
    fields = form_order(token)
    answer = client.post("/orders", data=fields, environ_base={"REMOTE_ADDR": address})
    assert answer.status_code == 429
    assert command_row(engine, fields["idempotency_key"]) is None


def test_the_next_window_lets_commands_through_again(redis_client: redis.Redis) -> None:
    now = [1_000_000.0]
    limiter = RedisRateLimiter(redis_client, RateLimit(2, 10), clock=lambda: now[0])
    client = a_key("window")
    assert [limiter.hit(client) for _ in range(3)] == [None, None, 10]
    now[0] += 7.5
    assert limiter.hit(client) == 3  # seconds until the window ends, rounded up
    now[0] += 2.5
    assert limiter.hit(client) is None


def test_when_redis_is_down_the_limit_fails_open_and_commands_are_still_accepted(
    database_url: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    client = limited_app(database_url, engine, dead_redis, (1, DAY)).test_client()
    keys = [a_key("open") for _ in range(2)]

    statuses = [api(client).post("/api/orders", ORDER, key=key).status_code for key in keys]

    assert statuses == [202, 202]
    assert all(recorded_command(engine, key)["status"] == "accepted" for key in keys)
    assert any(getattr(r, "event", None) == "rate_limit.unavailable" for r in caplog.records)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120/60", (120, 60)), (" 5/1 ", (5, 1)), ("off", None), ("", (1200, 60))],
)
def test_the_rate_limit_setting_is_read_from_the_environment(value: str, expected: Any) -> None:
    settings = Settings.from_env({"ORDERWIRE_RATE_LIMIT": value})
    assert settings.rate_limit == expected


@pytest.mark.parametrize("value", ["120", "120/", "/60", "0/60", "10/0", "ten/60", "-1/60"])
def test_a_bad_rate_limit_setting_stops_start_up_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"ORDERWIRE_RATE_LIMIT": value})
    assert refused.value.variable == "ORDERWIRE_RATE_LIMIT"
