"""Accepting commands over HTTP (CONTRACT.md section 2), on a real database and a real broker.

What was enqueued is read from the Redis list `celery`, the broker queue the workers
consume, so "nothing new was enqueued" means exactly that.
"""

import base64
import dataclasses
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine

from orderwire.bootstrap import Orderwire, bootstrap
from orderwire.config import Settings
from orderwire.local_redis import PrivateRedis, free_port
from orderwire.redis_replies import byte_strings
from tests.payloads import ORDER, a_key
from tests.recorded_commands import (
    command_count,
    command_id_of,
    command_row,
    execute_request,
    recorded_command,
)
from tools.harness.api_client import ApiClient
from tools.harness.waiting import wait_for
from web import create_app

pytestmark = pytest.mark.integration

STATUS_FIELDS = {
    "request_id",
    "command",
    "status",
    "attempts",
    "result",
    "error",
    "accepted_at",
    "finished_at",
}


def client_for(services: Orderwire) -> FlaskClient:
    return create_app(services.settings, services=services).test_client()


@pytest.fixture
def client(services: Orderwire) -> FlaskClient:
    return client_for(services)


def placed_order(client: FlaskClient) -> str:
    """An order this client's session is placing (accepted, not yet run): its id."""
    order_id = str(uuid.uuid4())
    answer = ApiClient(client).post("/api/orders", {**ORDER, "order_id": order_id})
    assert answer.status_code == 202, answer.get_json()
    return order_id


def same_session(clients: list[FlaskClient]) -> list[FlaskClient]:
    """The clients, all carrying the first one's session cookie (one browser, many tabs)."""
    clients[0].get("/api/orders")
    cookie = clients[0].get_cookie("session")
    assert cookie is not None
    for other in clients[1:]:
        other.set_cookie("session", cookie.value)
    return clients


def queued(broker: redis.Redis, request_id: str) -> list[dict[str, Any]]:
    """Messages for this request id waiting in the broker's `celery` list, decoded."""
    found = []
    for raw in byte_strings(broker.lrange("celery", 0, -1)):
        message = json.loads(raw)
        if message["headers"]["id"] == request_id:
            args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            found.append({"task": message["headers"]["task"], "args": args, "kwargs": kwargs,
                          "raw": raw.decode()})
    return found


def assert_no_trace(engine: Engine, broker: redis.Redis, rows_before: int, key: str) -> None:
    assert command_count(engine) == rows_before
    assert command_row(engine, key) is None
    assert queued(broker, key) == []


# --- 202 -------------------------------------------------------------------------------


def test_an_order_is_recorded_then_enqueued_with_only_its_command_id_then_answered_202(
    client: FlaskClient, engine: Engine, redis_client: redis.Redis
) -> None:
    key = a_key("api")

    answer = ApiClient(client).post("/api/orders", ORDER, key=key)

    assert answer.status_code == 202
    body = answer.get_json()
    assert set(body) == {"request_id", "command", "status", "status_url", "order_id"}
    assert body["request_id"] == key and body["command"] == "PlaceOrder"
    assert body["status"] == "accepted"
    assert body["status_url"] == answer.headers["Location"] == f"/api/commands/{key}"
    assert str(uuid.UUID(body["order_id"])) == body["order_id"]
    assert "Idempotent-Replayed" not in answer.headers

    row = recorded_command(engine, key)
    assert row["status"] == "accepted" and row["order_id"] == body["order_id"]
    assert row["payload"]["customer_name"] == "Ada Lovelace"
    assert len(row["fingerprint"]) == 64 and row["session_id"]

    [message] = queued(redis_client, key)
    assert message["task"] == "orderwire.PlaceOrder"
    # Task id: the request id (the contract); argument: the session-scoped command id.
    assert message["args"] == [row["command_id"]] and message["kwargs"] == {}
    assert "Ada" not in message["raw"] and "Analytical" not in message["raw"]


def test_without_a_key_the_server_makes_a_uuid_request_id(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    answer = ApiClient(client).post("/api/orders", ORDER)
    assert answer.status_code == 202
    request_id = answer.get_json()["request_id"]
    assert str(uuid.UUID(request_id)) == request_id
    assert len(queued(redis_client, request_id)) == 1


def test_x_request_id_is_accepted_as_the_key(client: FlaskClient) -> None:
    key = a_key("api")
    answer = ApiClient(client).post("/api/orders", ORDER, headers={"X-Request-Id": key})
    assert answer.status_code == 202 and answer.get_json()["request_id"] == key


def test_a_client_chosen_order_id_is_kept(client: FlaskClient) -> None:
    order_id = str(uuid.uuid4())
    answer = ApiClient(client).post("/api/orders", {**ORDER, "order_id": order_id.upper()})
    assert answer.status_code == 202 and answer.get_json()["order_id"] == order_id


@pytest.mark.parametrize(
    ("action", "body", "command"),
    [
        ("pay", {}, "PayOrder"),
        ("pay", None, "PayOrder"),  # an empty body counts as {}
        ("ship", {}, "ShipOrder"),
        ("cancel", {"reason": " changed my mind "}, "CancelOrder"),
    ],
)
def test_order_steps_are_accepted_for_the_order_in_the_path(
    client: FlaskClient,
    engine: Engine,
    redis_client: redis.Redis,
    action: str,
    body: Any,
    command: str,
) -> None:
    order_id, key = placed_order(client), a_key("api")
    raw = b"" if body is None else None
    answer = ApiClient(client).post(f"/api/orders/{order_id}/{action}", body, key=key, raw=raw)

    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["command"] == command
    assert answer.get_json()["order_id"] == order_id
    row = recorded_command(engine, key)
    assert row["order_id"] == order_id
    if command == "CancelOrder":
        assert row["payload"]["reason"] == "changed my mind"
    assert [message["task"] for message in queued(redis_client, key)] == [f"orderwire.{command}"]


# --- replays and reused keys -----------------------------------------------------------


def test_a_replay_gets_the_same_answer_with_the_current_status_and_enqueues_nothing(
    client: FlaskClient, services: Orderwire, redis_client: redis.Redis
) -> None:
    key = a_key("api")
    first = ApiClient(client).post("/api/orders", ORDER, key=key)
    queue_length = redis_client.llen("celery")

    again = ApiClient(client).post("/api/orders", ORDER, key=key)
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]

    execute_request(services, key)  # a worker runs it
    later = ApiClient(client).post("/api/orders", ORDER, key=key)
    assert later.status_code == 202 and later.headers["Idempotent-Replayed"] == "true"
    assert later.get_json() == {**first.get_json(), "status": "succeeded"}

    assert redis_client.llen("celery") == queue_length
    assert len(queued(redis_client, key)) == 1


def test_the_same_json_with_other_key_order_and_whitespace_is_a_replay(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    key = a_key("api")
    compact = json.dumps(ORDER, separators=(",", ":"))
    reordered = json.dumps(dict(reversed(list(ORDER.items()))), indent=4, sort_keys=False)
    assert compact != reordered

    first = ApiClient(client).post("/api/orders", key=key, raw=compact)
    again = ApiClient(client).post("/api/orders", key=key, raw="\n  " + reordered + "\n")

    assert first.status_code == 202 and again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(queued(redis_client, key)) == 1


def test_a_replayed_order_without_an_order_id_keeps_the_order_id_assigned_first(
    client: FlaskClient,
) -> None:
    key = a_key("api")
    first = ApiClient(client).post("/api/orders", ORDER, key=key).get_json()
    again = ApiClient(client).post("/api/orders", ORDER, key=key).get_json()
    assert again["order_id"] == first["order_id"]


def test_a_replayed_empty_body_matches_an_empty_object(client: FlaskClient) -> None:
    key, path = a_key("api"), f"/api/orders/{placed_order(client)}/pay"
    assert ApiClient(client).post(path, raw=b"", key=key).status_code == 202
    again = ApiClient(client).post(path, {}, key=key)
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_body_is_409_and_changes_nothing(
    client: FlaskClient, engine: Engine, redis_client: redis.Redis
) -> None:
    key = a_key("api")
    ApiClient(client).post("/api/orders", ORDER, key=key)
    before = command_row(engine, key)

    other = ApiClient(client).post(
        "/api/orders", {**ORDER, "customer_name": "Grace Hopper"}, key=key
    )

    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert command_row(engine, key) == before
    assert len(queued(redis_client, key)) == 1


def test_the_same_key_on_another_endpoint_is_409(
    client: FlaskClient, engine: Engine, redis_client: redis.Redis
) -> None:
    key, order_id = a_key("api"), placed_order(client)
    assert ApiClient(client).post(f"/api/orders/{order_id}/pay", {}, key=key).status_code == 202

    elsewhere = ApiClient(client).post(f"/api/orders/{order_id}/ship", {}, key=key)
    other_order = ApiClient(client).post(f"/api/orders/{placed_order(client)}/pay", {}, key=key)

    for answer in (elsewhere, other_order):
        assert answer.status_code == 409
        assert answer.get_json()["error"]["code"] == "idempotency_key_reused"
    assert recorded_command(engine, key)["command"] == "PayOrder"
    assert len(queued(redis_client, key)) == 1


def test_twenty_identical_requests_at_once_make_exactly_one_command(
    services: Orderwire, engine: Engine, redis_client: redis.Redis
) -> None:
    key = a_key("api")
    start = threading.Barrier(20, timeout=30)
    answers: list[Any] = []
    # Built one by one: CPython 3.11's compile() (werkzeug compiles each app's routes) is not
    # safe to run from many threads at once. The requests themselves are what run together.
    clients = same_session([client_for(services) for _ in range(20)])

    def send(client: FlaskClient) -> None:
        start.wait()
        answers.append(ApiClient(client).post("/api/orders", ORDER, key=key))

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [answer.status_code for answer in answers] == [202] * 20
    assert len({answer.get_json()["order_id"] for answer in answers}) == 1
    replayed = [answer.headers.get("Idempotent-Replayed") for answer in answers]
    assert replayed.count("true") == 19 and replayed.count(None) == 1
    assert command_count(engine, key) == 1
    assert len(queued(redis_client, key)) == 1


# --- refused requests leave no trace ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({**ORDER, "customer_name": ""}, {"customer_name"}),
        (
            {**ORDER, "lines": [{"product": "tea", "quantity": 0, "unit_price": "1.005"}]},
            {"lines.0.quantity", "lines.0.unit_price"},
        ),
        ({**ORDER, "discount": 10}, {"discount"}),
        ([ORDER], {"_schema"}),
        ("an order", {"_schema"}),
    ],
)
def test_an_invalid_order_is_422_with_every_field_named_and_leaves_no_trace(
    client: FlaskClient, engine: Engine, redis_client: redis.Redis, body: Any, fields: set[str]
) -> None:
    key, rows_before = a_key("api"), command_count(engine)

    answer = ApiClient(client).post("/api/orders", body, key=key)

    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "validation_failed" and error["message"]
    assert set(error["fields"]) == fields
    assert all(isinstance(messages, list) and messages for messages in error["fields"].values())
    assert_no_trace(engine, redis_client, rows_before, key)


@pytest.mark.parametrize(
    ("path", "body", "fields"),
    [
        ("/api/orders/not-a-uuid/pay", {}, {"order_id"}),
        # Fixed ids, not uuid4(): test ids must be the same in every collection (pytest-xdist).
        ("/api/orders/6f1c2d5e-0000-4000-8000-0000000000a1/ship", {"express": True}, {"express"}),
        ("/api/orders/6f1c2d5e-0000-4000-8000-0000000000a2/cancel", {}, {"reason"}),
        ("/api/orders/6f1c2d5e-0000-4000-8000-0000000000a3/cancel", {"reason": "x" * 201},
         {"reason"}),
        ("/api/orders/nope/cancel", {"reason": "\x07"}, {"order_id", "reason"}),
    ],
)
def test_an_invalid_order_step_is_422_and_leaves_no_trace(
    client: FlaskClient,
    engine: Engine,
    redis_client: redis.Redis,
    path: str,
    body: Any,
    fields: set[str],
) -> None:
    key, rows_before = a_key("api"), command_count(engine)
    answer = ApiClient(client).post(path, body, key=key)
    assert answer.status_code == 422
    assert set(answer.get_json()["error"]["fields"]) == fields
    assert_no_trace(engine, redis_client, rows_before, key)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"customer_name": "Ada", ',
        b"",
        b'{"customer_name": "Ada", "lines": [{"product": "t", "quantity": 1, "unit_price": NaN}]}',
        b'{"customer_name": "Ada", "lines": [{"product": "t", "quantity": 1, '
        b'"unit_price": Infinity}]}',
        b'{"customer_name": "\xff\xfe"}',
    ],
)
def test_a_body_that_is_not_json_is_400_malformed_json(
    client: FlaskClient, engine: Engine, redis_client: redis.Redis, raw: bytes
) -> None:
    key, rows_before = a_key("api"), command_count(engine)
    answer = ApiClient(client).post("/api/orders", ORDER, raw=raw, key=key)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "malformed_json"
    assert_no_trace(engine, redis_client, rows_before, key)


@pytest.mark.parametrize("key", ["", "has space", "x" * 129, "semi;colon", "ключ"])
def test_a_bad_idempotency_key_is_400(
    client: FlaskClient, engine: Engine, redis_client: redis.Redis, key: str
) -> None:
    rows_before = command_count(engine)
    for header in ("Idempotency-Key", "X-Request-Id"):
        answer = client.post(
            "/api/orders", data=json.dumps(ORDER), content_type="application/json",
            headers={header: key.encode().decode("latin-1")},
        )
        assert answer.status_code == 400
        assert answer.get_json()["error"]["code"] == "invalid_idempotency_key"
    assert command_count(engine) == rows_before


def test_the_longest_allowed_key_is_accepted(client: FlaskClient) -> None:
    key = "A-z0.9_:" * 16
    assert len(key) == 128
    assert ApiClient(client).post("/api/orders", ORDER, key=key).status_code == 202


def test_a_body_over_64_kib_is_413(
    client: FlaskClient, engine: Engine, redis_client: redis.Redis
) -> None:
    key, rows_before = a_key("api"), command_count(engine)
    huge = json.dumps({**ORDER, "customer_name": "A" * (64 * 1024)})
    answer = ApiClient(client).post("/api/orders", ORDER, raw=huge, key=key)
    assert answer.status_code == 413
    assert answer.get_json()["error"]["code"] == "payload_too_large"
    assert_no_trace(engine, redis_client, rows_before, key)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""]
)
def test_a_body_that_is_not_declared_json_is_415(
    client: FlaskClient, engine: Engine, redis_client: redis.Redis, content_type: str
) -> None:
    key, rows_before = a_key("api"), command_count(engine)
    answer = ApiClient(client).post("/api/orders", ORDER, key=key, content_type=content_type)
    assert answer.status_code == 415
    assert answer.get_json()["error"]["code"] == "unsupported_media_type"
    assert_no_trace(engine, redis_client, rows_before, key)


def test_json_with_a_charset_parameter_is_still_json(client: FlaskClient) -> None:
    answer = ApiClient(client).post(
        "/api/orders", ORDER, content_type="application/json; charset=utf-8"
    )
    assert answer.status_code == 202


# --- when a dependency is down ---------------------------------------------------------


def unreachable_postgres() -> Engine:
    return create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/orderwire")


def unopenable_sqlite(tmp_path: Path) -> Engine:
    directory_not_file = tmp_path / "unopenable.db"
    directory_not_file.mkdir()
    return create_engine(f"sqlite:///{directory_not_file}")


@pytest.mark.parametrize("broken", ["postgresql-closed-port", "sqlite-unopenable"])
def test_when_the_database_is_unavailable_the_answer_is_503_with_retry_after_and_nothing_is_sent(
    settings: Settings, redis_client: redis.Redis, tmp_path: Path, broken: str
) -> None:
    engine = unreachable_postgres() if "postgresql" in broken else unopenable_sqlite(tmp_path)
    services = bootstrap(settings, engine=engine, redis_client=redis_client)
    key = a_key("api")

    answer = ApiClient(client_for(services)).post("/api/orders", ORDER, key=key)

    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "unavailable"
    assert int(answer.headers["Retry-After"]) > 0
    assert queued(redis_client, key) == []
    engine.dispose()


def test_when_redis_is_down_the_command_is_still_accepted_and_the_sweeper_sends_it_later(
    settings: Settings, engine: Engine, redis_client: redis.Redis, tmp_path: Path
) -> None:
    broker = PrivateRedis(tmp_path / "broker").start()
    broker_settings = dataclasses.replace(settings, redis_url=broker.url, sweep_accepted_after=0)
    services = bootstrap(broker_settings, engine=engine, redis_client=redis_client)
    client = client_for(services)
    broker.stop()
    key = a_key("api")
    try:
        answer = ApiClient(client).post("/api/orders", ORDER, key=key)

        assert answer.status_code == 202
        assert answer.get_json()["status"] == "accepted"
        assert recorded_command(engine, key)["status"] == "accepted"

        broker = PrivateRedis(tmp_path / "broker", port=broker.port).start()
        broker_client = redis.Redis.from_url(broker.url)
        assert queued(broker_client, key) == []
        # Sweep until this command's turn comes (the PostgreSQL schema is shared by tests).
        wait_for(
            lambda: services.sweeper.sweep() and queued(broker_client, key),
            timeout=30,
            what="the sweeper to re-enqueue the command",
        )
        [message] = queued(broker_client, key)
        # The task id is the request id; its argument, the command id (unique per session).
        assert message["task"] == "orderwire.PlaceOrder"
        assert message["args"] == [command_id_of(engine, key)]
        broker_client.close()
    finally:
        broker.stop()


# --- GET /api/commands/<id> ------------------------------------------------------------


def test_a_command_status_has_exactly_the_contract_fields(
    client: FlaskClient, services: Orderwire
) -> None:
    key = a_key("api")
    accepted = ApiClient(client).post("/api/orders", ORDER, key=key).get_json()

    status = client.get(f"/api/commands/{key}").get_json()
    assert set(status) - {"order_id"} == STATUS_FIELDS
    assert status["request_id"] == key and status["command"] == "PlaceOrder"
    assert status["status"] == "accepted" and status["attempts"] == 0
    assert status["result"] is None and status["error"] is None
    assert status["accepted_at"].endswith("Z") and status["finished_at"] is None

    execute_request(services, key)

    done = client.get(f"/api/commands/{key}").get_json()
    assert set(done) - {"order_id"} == STATUS_FIELDS
    assert done["status"] == "succeeded" and done["attempts"] == 1
    assert done["result"]["order_id"] == accepted["order_id"]
    assert done["error"] is None
    assert done["finished_at"].endswith("Z") and done["finished_at"] >= done["accepted_at"]


def test_a_rejected_command_shows_its_error_code_and_message(
    client: FlaskClient, services: Orderwire
) -> None:
    key, order_id = a_key("api"), placed_order(client)
    ApiClient(client).post(f"/api/orders/{order_id}/ship", {}, key=key)
    execute_request(services, key)  # before the order is placed: it is not there yet

    status = client.get(f"/api/commands/{key}").get_json()
    assert status["status"] == "rejected" and status["attempts"] == 1
    assert status["error"]["code"] == "order_not_found" and status["error"]["message"]
    assert status["result"] is None


def test_an_unknown_command_is_404(client: FlaskClient) -> None:
    answer = client.get(f"/api/commands/{a_key('api')}")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "not_found"
