"""/openapi.json says exactly what the server enforces: schemathesis with every check it has
(valid requests must be accepted, invalid ones refused, every answer documented, 405 with
Allow) finds no deviation, in either direction, on any operation.

Valid requests come without a session, like a stranger's: commands on an order are then 404
(the order is not theirs, which the document states) and that is what schemathesis expects
of a valid request naming something that does not exist.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from alembic import command
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks

from orderwire.bootstrap import bootstrap
from orderwire.config import Settings
from orderwire.db.engine import make_engine
from orderwire.db.tables import metadata
from orderwire.local_redis import PrivateRedis
from orderwire.migrate import alembic_config
from web import create_app

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("ORDERWIRE_FUZZ_EXAMPLES", "150"))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    directory: Path = tmp_path_factory.mktemp("conformance")
    url = f"sqlite:///{directory / 'orderwire.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    command.stamp(alembic_config(url), "head")  # /readyz wants the schema at the code's head
    with PrivateRedis(directory / "redis") as server:
        settings_ = Settings(redis_url=server.url, database_url=url, secret_key="test-only",
                             environment="test")
        yield create_app(settings_, services=bootstrap(settings_, engine=engine))
    engine.dispose()


def every_check() -> list[Any]:
    load_all_checks()
    checks = CHECKS.get_all()
    assert {check.__name__ for check in checks} >= {
        "not_a_server_error", "status_code_conformance", "content_type_conformance",
        "response_headers_conformance", "response_schema_conformance",
        "negative_data_rejection", "positive_data_acceptance", "missing_required_header",
        "unsupported_method", "allow_header_conformance",
    }
    return checks


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["valid-requests", "invalid-requests"])
def test_no_check_finds_the_server_and_its_document_disagreeing(
    app: Flask, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    checks = every_check()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=schema.as_strategy(mode))
    def agrees(case: Any) -> None:
        case.call_and_validate(checks=checks)

    agrees()


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/api/orders", {"GET", "POST"}),
        ("put", "/api/orders/1b4e28ba-2fa1-11d2-883f-0016d3cca427", {"GET"}),
        ("get", "/api/orders/1b4e28ba-2fa1-11d2-883f-0016d3cca427/pay", {"POST"}),
        ("post", "/api/commands/some-key", {"GET"}),
        ("post", "/healthz", {"GET"}),
        ("delete", "/", {"GET"}),
    ],
)
def test_a_method_the_path_does_not_take_is_405_with_allow(
    app: Flask, method: str, path: str, allowed: set[str]
) -> None:
    answer = getattr(app.test_client(), method)(path)
    assert answer.status_code == 405
    assert allowed <= {name.strip() for name in answer.headers["Allow"].split(",")}
    if path.startswith("/api/"):
        assert answer.get_json()["error"]["code"] == "method_not_allowed"
