"""Every endpoint of /openapi.json, and every page, with each dependency taken away.

The database is made unreachable (a SQLite "file" that is a directory; a PostgreSQL
port nobody listens on), or Redis is (a port nobody listens on), and every operation
of the document is sent a valid request. Nothing answers 500: what needs the missing
dependency answers 503 with Retry-After, what does not answers as usual (docs/promises.md,
"When a dependency is away").
"""

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from orderwire.bootstrap import bootstrap
from orderwire.config import Settings
from orderwire.local_redis import PrivateRedis, free_port
from tests.payloads import ORDER, a_key, form_fields
from web import create_app

pytestmark = pytest.mark.integration

# A valid body for each command operation (the others take none).
BODIES = {
    ("post", "/api/orders"): ORDER,
    ("post", "/api/orders/{order_id}/pay"): {},
    ("post", "/api/orders/{order_id}/ship"): {},
    ("post", "/api/orders/{order_id}/cancel"): {"reason": "changed my mind"},
}
PAGES = [("get", "/"), ("get", "/orders/{order_id}"), ("post", "/orders")]
# They answer without the database or Redis by design: liveness, the document itself, and
# metrics (which report the dependency as down in orderwire_dependency_up rather than fail,
# so a scrape still tells the operator which one is away).
ALWAYS_ANSWER = {("get", "/healthz"), ("get", "/openapi.json"), ("get", "/metrics")}
# Commands only need Redis to be *sent*: they are stored, answered 202, and the sweeper
# sends them once Redis is back. The reads never touch Redis.
NEED_ONLY_THE_DATABASE = {*BODIES, ("get", "/api/orders"), ("get", "/api/orders/{order_id}"),
                          ("get", "/api/orders/{order_id}/events"), ("get", "/api/notifications"),
                          ("get", "/api/commands/{request_id}"), *PAGES}


def unreachable_database(tmp_path: Path) -> str:
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured and configured.startswith("postgresql"):
        url = make_url(configured).set(host="127.0.0.1", port=free_port())
        return url.render_as_string(hide_password=False)
    return f"sqlite:///{tmp_path}"  # a directory: SQLite cannot open it


def app_with(database_url: str, redis_url: str) -> Flask:
    settings = Settings(redis_url=redis_url, database_url=database_url, secret_key="test-only",
                        environment="test")
    return create_app(settings, services=bootstrap(settings))


def operations(client: FlaskClient) -> list[tuple[str, str]]:
    document = client.get("/openapi.json").get_json()
    return [(method, path) for path, item in document["paths"].items() for method in item]


def send(client: FlaskClient, method: str, template: str) -> Any:
    path = template.format(order_id=uuid.uuid4(), request_id=a_key("k"))
    if method == "get":
        return client.get(path)
    if template == "/orders":  # the form (CSRF is off in this app, see below)
        return client.post(path, data=form_fields())
    return client.post(path, json=BODIES[(method, template)])


def assert_unavailable(answer: Any, what: str) -> None:
    assert answer.status_code == 503, (what, answer.status_code, answer.get_data(as_text=True))
    assert int(answer.headers["Retry-After"]) > 0, what
    if answer.mimetype == "application/json":
        assert answer.get_json()["error"]["code"] == "unavailable", what


def test_with_the_database_away_every_endpoint_answers_503_with_retry_after(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    app = app_with(unreachable_database(tmp_path), redis_server.url)
    app.config["WTF_CSRF_ENABLED"] = False  # the form must reach the database to fail there
    client = app.test_client()
    every = operations(client)
    assert len(every) >= 12  # the document was read, not an empty one
    client.get("/")  # a session (made before the database is asked, and kept on the 503)
    assert client.get_cookie("session") is not None

    for method, path in every + PAGES:
        answer = send(client, method, path)
        what = f"{method.upper()} {path}"
        if (method, path) in ALWAYS_ANSWER:
            assert answer.status_code == 200, what
        elif path == "/readyz":
            assert answer.status_code == 503 and "database" in answer.get_json()["down"], what
        else:
            assert_unavailable(answer, what)


def test_with_redis_away_nothing_is_a_500_and_what_needs_it_says_503(
    database_url: str, redis_server: PrivateRedis
) -> None:
    app = app_with(database_url, f"redis://127.0.0.1:{free_port()}/0")  # nobody serves it
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    assert client.get("/").status_code == 200  # a session, for the reads below

    for method, path in operations(client) + PAGES:
        answer = send(client, method, path)
        what = f"{method.upper()} {path}"
        assert answer.status_code < 500 or path == "/readyz", what
        if path == "/readyz":
            assert answer.status_code == 503 and "redis" in answer.get_json()["down"], what
        elif (method, path) in BODIES:
            assert answer.status_code in (202, 404), what  # stored; the sweeper sends it
        elif (method, path) in NEED_ONLY_THE_DATABASE | ALWAYS_ANSWER:
            assert answer.status_code in (200, 202, 303, 404), what


def test_a_page_that_meets_an_outage_is_a_page_not_json(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    client = app_with(unreachable_database(tmp_path), redis_server.url).test_client()
    answer = client.get("/")
    assert answer.status_code == 503 and answer.mimetype == "text/html"
    assert "Back in a moment" in answer.get_data(as_text=True)
    assert answer.headers["Content-Security-Policy"]  # the page headers still apply
