"""Hostile and random input never gets a 5xx, always gets its documented 4xx, leaves no trace.

Two layers here: hypothesis generates valid and broken command bodies; and a list of
classic hostile bodies (deep nesting, NaN, 2 MB, wrong content types, control
characters) is checked one by one. schemathesis, driving every operation of
`/openapi.json` with every check it has, is in test_openapi_conformance.py.
"""

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from orderwire.bootstrap import bootstrap
from orderwire.config import Settings
from orderwire.local_redis import PrivateRedis
from tests.payloads import ORDER, a_key
from tests.recorded_commands import command_count, command_row, recorded_command
from tools.harness.api_client import ApiClient
from web import create_app

pytestmark = pytest.mark.integration



def make_app(database_url: str, redis_url: str, engine: Engine | None = None) -> Flask:
    settings = Settings(
        redis_url=redis_url, database_url=database_url, secret_key="test-only", environment="test"
    )
    return create_app(settings, services=bootstrap(settings, engine=engine))


@pytest.fixture
def app(engine: Engine, database_url: str, redis_server: PrivateRedis) -> Flask:
    return make_app(database_url, redis_server.url, engine)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_the_document_describes_every_endpoint_of_the_contract(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    operations = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert operations >= {
        ("POST", "/api/orders"),
        ("POST", "/api/orders/{order_id}/pay"),
        ("POST", "/api/orders/{order_id}/ship"),
        ("POST", "/api/orders/{order_id}/cancel"),
        ("GET", "/api/commands/{request_id}"),
        ("GET", "/api/orders/{order_id}"),
        ("GET", "/api/orders"),
        ("GET", "/openapi.json"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
    }
    place = document["paths"]["/api/orders"]["post"]
    assert {"202", "400", "409", "413", "415", "422", "429", "503"} <= set(place["responses"])


# --- hypothesis: valid bodies are accepted, broken ones get 422 with the field named ------

# a list, not a tuple: mypy infers a literal tuple as tuple[str], not the category names
printable = st.characters(blacklist_categories=["C"])
text = st.text(printable, min_size=1, max_size=40).filter(lambda value: value.strip())
price = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100000), places=2)
line = st.fixed_dictionaries(
    {
        "product": text,
        "quantity": st.integers(1, 1000),
        "unit_price": st.one_of(price.map(str), price.map(float)),
    }
)
lines = st.lists(line, min_size=1, max_size=4)
valid_order = st.fixed_dictionaries({"customer_name": text, "lines": lines})

BROKEN_FIELDS: dict[str, list[Any]] = {
    "customer_name": ["", "   ", "x" * 101, "Ada\x00", "\x1b[31mAda", None, 7],
    "lines": [[], None, "tea", [ORDER["lines"][0]] * 51],
    "lines.0.quantity": [0, 1001, -1, 1.5, "1", True, None],
    "lines.0.unit_price": ["0", "-1", "1.001", "NaN", "Infinity", "100000.01", "ten", None],
    "lines.0.product": ["", "x" * 101, "\u202etea", 3],
}


@st.composite
def broken_order(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    body: dict[str, Any] = draw(valid_order)
    path = draw(st.sampled_from(sorted(BROKEN_FIELDS)))
    value = draw(st.sampled_from(BROKEN_FIELDS[path]))
    target, *rest = path.split(".")
    if rest:
        body["lines"][0][rest[-1]] = value
    else:
        body[target] = value
    return body, path


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=valid_order)
def test_every_valid_order_is_accepted(body: dict[str, Any], client: FlaskClient,
                                       engine: Engine) -> None:
    key = a_key("valid")
    answer = ApiClient(client, key_prefix="bad").post("/api/orders", body, key=key)
    assert answer.status_code == 202, answer.get_json()
    assert recorded_command(engine, key)["status"] == "accepted"


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=broken_order())
def test_a_broken_field_is_422_naming_it_and_leaves_nothing(
    case: tuple[dict[str, Any], str], client: FlaskClient, engine: Engine
) -> None:
    body, path = case
    key = a_key("broken")
    answer = ApiClient(client, key_prefix="bad").post("/api/orders", body, key=key)
    assert answer.status_code == 422, (body, answer.get_json())
    error = answer.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert any(name == path or name.startswith(f"{path}.") for name in error["fields"]), error
    assert command_row(engine, key) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=json_values, endpoint=st.sampled_from(["", "/pay", "/ship", "/cancel"]))
def test_any_json_at_all_gets_an_answer_in_the_error_shape_never_a_5xx(
    body: Any, endpoint: str, client: FlaskClient, engine: Engine
) -> None:
    path = f"/api/orders/{uuid.uuid4()}{endpoint}" if endpoint else "/api/orders"
    key = a_key("any")
    answer = ApiClient(client, key_prefix="bad").post(path, body, key=key)
    # 404: a command on an order this session is not placing (ownership, web/api/intake.py).
    assert answer.status_code in (202, 404, 422), (body, answer.get_json())
    if answer.status_code == 422:
        assert set(answer.get_json()["error"]) == {"code", "message", "fields"}
        assert command_row(engine, key) is None


# --- classic hostile bodies --------------------------------------------------------------

ORDER_WITH_PRICE = (
    '{"customer_name":"Ada","lines":[{"product":"tea","quantity":1,"unit_price":%s}]}'
)


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        pytest.param(b'{"customer_name": "Ada", ', "application/json", 400, "malformed_json",
                     id="truncated-json"),
        pytest.param(b"[" * 60_000, "application/json", 400, "malformed_json",
                     id="60k-nested-arrays"),
        pytest.param(b"[" * 100_000, "application/json", 413, "payload_too_large",
                     id="100k-nested-arrays"),
        pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "application/json", 400,
                     "malformed_json", id="10k-nested-objects"),
        pytest.param((ORDER_WITH_PRICE % "NaN").encode(), "application/json", 400,
                     "malformed_json", id="nan-literal"),
        pytest.param((ORDER_WITH_PRICE % "-Infinity").encode(), "application/json", 400,
                     "malformed_json", id="infinity-literal"),
        pytest.param((ORDER_WITH_PRICE % '"NaN"').encode(), "application/json", 422,
                     "validation_failed", id="nan-string"),
        pytest.param((ORDER_WITH_PRICE % "1e999").encode(), "application/json", 422,
                     "validation_failed", id="overflowing-number"),
        pytest.param(b'{"customer_name":"' + b"x" * (2 * 1024 * 1024) + b'"}', "application/json",
                     413, "payload_too_large", id="2-mib-body"),
        pytest.param(b"\xff\xfe{}", "application/json", 400, "malformed_json", id="not-utf8"),
        pytest.param(json.dumps(ORDER).encode(), "text/plain", 415, "unsupported_media_type",
                     id="text-plain"),
        pytest.param(b"customer_name=Ada", "application/x-www-form-urlencoded", 415,
                     "unsupported_media_type", id="form-encoded"),
        pytest.param(json.dumps(ORDER).encode(), None, 415, "unsupported_media_type",
                     id="no-content-type"),
        pytest.param(json.dumps(ORDER).encode(), "application/jsonp", 415,
                     "unsupported_media_type", id="lookalike-type"),
        pytest.param(json.dumps({**ORDER, "customer_name": "Ada\u0000Lovelace"}).encode(),
                     "application/json", 422, "validation_failed", id="nul-in-name"),
        pytest.param(json.dumps({**ORDER, "customer_name": "Ada\u202eecalevol"}).encode(),
                     "application/json", 422, "validation_failed", id="bidi-override-in-name"),
        pytest.param(b'{"customer_name":"Ada\\ud800","lines":[]}', "application/json", 422,
                     "validation_failed", id="lone-surrogate"),
    ],
)
def test_a_hostile_body_gets_its_documented_4xx_and_leaves_nothing(
    client: FlaskClient, engine: Engine, redis_client: redis.Redis,
    raw: bytes, content_type: str | None, status: int, code: str,
) -> None:
    before, queued_before = command_count(engine), redis_client.llen("celery")
    key = a_key("hostile")

    answer = ApiClient(client).post(
        "/api/orders", raw=raw, key=key, content_type=content_type
    )

    assert answer.status_code == status, answer.get_data()[:300]
    assert answer.get_json()["error"]["code"] == code
    assert command_count(engine) == before and command_row(engine, key) is None
    assert redis_client.llen("celery") == queued_before


@pytest.mark.parametrize("action", ["pay", "ship", "cancel"])
def test_hostile_bodies_on_order_steps_are_refused_too(
    client: FlaskClient, engine: Engine, action: str
) -> None:
    path = f"/api/orders/{uuid.uuid4()}/{action}"
    before = command_count(engine)
    answers = [
        ApiClient(client, key_prefix="bad").post(path, raw=b"[" * 60_000).status_code,
        ApiClient(client, key_prefix="bad").post(path, raw=b'{"reason": NaN}').status_code,
        ApiClient(client, key_prefix="bad").post(
            path, raw=b"{}", content_type="text/plain"
        ).status_code,
        ApiClient(client, key_prefix="bad").post(path, raw=b" " * (65 * 1024)).status_code,
    ]
    assert answers == [400, 400, 415, 413]
    assert command_count(engine) == before
