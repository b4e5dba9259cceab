"""The form endpoints refuse a foreign Origin (403), even with a valid CSRF token; the
site's own origin, one in ALLOWED_ORIGINS, and a request with no Origin (not a browser:
the CSRF token still guards it) are let through."""

import dataclasses
import re
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from orderwire.bootstrap import Orderwire, bootstrap
from tests.payloads import form_fields
from tests.recorded_commands import command_count
from web import create_app

pytestmark = pytest.mark.integration

FORM = form_fields()


@pytest.fixture
def app(services: Orderwire) -> Flask:
    settings = dataclasses.replace(services.settings, allowed_origins=("https://shop.example",))
    return create_app(settings, services=bootstrap(settings, engine=services.engine))


def browser(app: Flask) -> tuple[FlaskClient, str]:
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return client, match.group(1)


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://localhost:1"])
def test_a_form_from_a_foreign_origin_is_403_and_changes_nothing(
    app: Flask, engine: Engine, origin: str
) -> None:
    client, token = browser(app)
    before = command_count(engine)
    placed = client.post("/orders", data={**FORM, "csrf_token": token},
                         headers={"Origin": origin})
    acted = client.post(f"/orders/{uuid.uuid4()}/cancel",
                        data={"csrf_token": token, "reason": "x"}, headers={"Origin": origin})
    assert placed.status_code == acted.status_code == 403
    assert command_count(engine) == before


@pytest.mark.parametrize("origin", ["http://localhost", "https://shop.example", None])
def test_a_form_from_the_site_an_allowed_origin_or_no_origin_is_taken(
    app: Flask, engine: Engine, origin: str | None
) -> None:
    client, token = browser(app)
    before = command_count(engine)
    headers = {"Origin": origin} if origin else {}
    answer = client.post("/orders", data={**FORM, "csrf_token": token}, headers=headers)
    assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
    assert command_count(engine) == before + 1


def test_without_the_csrf_token_a_same_origin_form_is_still_refused(app: Flask) -> None:
    client, _ = browser(app)
    answer = client.post("/orders", data=FORM, headers={"Origin": "http://localhost"})
    assert answer.status_code == 400
