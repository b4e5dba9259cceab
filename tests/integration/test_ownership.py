"""Orders and commands belong to the session that placed or sent them.

An Idempotency-Key is scoped to its session (two sessions, one key: two commands), and
another session's order or command answers 404 on every endpoint and page, exactly as
one that does not exist, so existence does not leak.
"""

import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from orderwire.bootstrap import Orderwire
from orderwire.db.tables import commands
from tests.payloads import ORDER, a_key
from tests.recorded_commands import command_count, execute_request, record_command
from tools.harness.api_client import ApiClient
from web import create_app

pytestmark = pytest.mark.integration

ACTIONS = [("pay", {}), ("ship", {}), ("cancel", {"reason": "not mine"})]


@pytest.fixture
def app(services: Orderwire) -> Flask:
    return create_app(services.settings, services=services)


def browser(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert client.get("/").status_code == 200  # the session cookie
    return client


def place(client: FlaskClient, services: Orderwire, key: str | None = None) -> dict[str, Any]:
    """Place an order and carry it out, as a worker would; the 202 answer."""
    body = {**ORDER, "order_id": str(uuid.uuid4())}
    answer = ApiClient(client).post("/api/orders", body, key=key)
    assert answer.status_code == 202, answer.get_json()
    accepted = answer.get_json()
    assert str(services.execute(command_of(services.engine, accepted)).status) == "succeeded"
    return accepted


def command_of(engine: Engine, accepted: dict[str, Any]) -> str:
    """The command id behind a 202 (its request id may be shared with another session)."""
    query = select(commands.c.command_id).where(
        commands.c.request_id == accepted["request_id"],
        commands.c.order_id == accepted["order_id"],
    )
    with engine.connect() as connection:
        return connection.execute(query).scalar_one()


def csrf_token(client: FlaskClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(True))
    assert match
    return match.group(1)


# --- keys are per session --------------------------------------------------------------


def test_two_sessions_using_one_key_make_two_commands(app: Flask, engine: Engine) -> None:
    alice, bob, key = browser(app), browser(app), a_key("shared")
    first = ApiClient(alice).post("/api/orders", ORDER, key=key)
    second = ApiClient(bob).post("/api/orders", {**ORDER, "customer_name": "Bob"}, key=key)

    assert first.status_code == second.status_code == 202
    assert "Idempotent-Replayed" not in second.headers  # not a replay of Alice's
    assert first.get_json()["request_id"] == second.get_json()["request_id"] == key
    assert first.get_json()["order_id"] != second.get_json()["order_id"]
    assert command_count(engine, key) == 2
    # Each session sees its own command under the key.
    assert alice.get(f"/api/commands/{key}").get_json()["order_id"] == first.get_json()["order_id"]
    assert bob.get(f"/api/commands/{key}").get_json()["order_id"] == second.get_json()["order_id"]


def test_a_replay_is_per_session_too(app: Flask, engine: Engine) -> None:
    alice, bob, key = browser(app), browser(app), a_key("shared")
    ApiClient(alice).post("/api/orders", ORDER, key=key)
    ApiClient(bob).post("/api/orders", ORDER, key=key)

    again = ApiClient(alice).post("/api/orders", ORDER, key=key)
    other_body = ApiClient(bob).post("/api/orders", {**ORDER, "customer_name": "Eve"}, key=key)

    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert other_body.status_code == 409  # Bob reused his own key, not Alice's
    assert command_count(engine, key) == 2


def test_two_sessions_with_one_key_each_get_their_own_outcome(
    app: Flask, services: Orderwire
) -> None:
    alice, bob, key = browser(app), browser(app), a_key("shared")
    alices = place(alice, services, key)
    bobs = place(bob, services, key)

    assert alice.get(f"/api/orders/{alices['order_id']}").status_code == 200
    assert bob.get(f"/api/orders/{bobs['order_id']}").status_code == 200
    for client in (alice, bob):
        assert client.get(f"/api/commands/{key}").get_json()["status"] == "succeeded"


# --- another session's things are 404 everywhere --------------------------------------


def test_another_sessions_order_and_command_are_404_on_every_read(
    app: Flask, services: Orderwire
) -> None:
    alice, bob = browser(app), browser(app)
    accepted = place(alice, services)
    order_id, key = accepted["order_id"], accepted["request_id"]
    never = str(uuid.uuid4())

    for path in (f"/api/orders/{order_id}", f"/api/orders/{order_id}/events",
                 f"/api/commands/{key}"):
        assert alice.get(path).status_code == 200, path
        theirs, unknown = bob.get(path), bob.get(path.replace(order_id, never).replace(key, never))
        assert theirs.status_code == unknown.status_code == 404, path
        assert theirs.get_json() == unknown.get_json(), path  # nothing tells them apart
    assert alice.get(f"/orders/{order_id}").status_code == 200
    assert bob.get(f"/orders/{order_id}").status_code == 404
    assert bob.get(f"/orders/{never}").status_code == 404
    assert order_id not in bob.get("/").get_data(as_text=True)
    assert ApiClient(bob).orders() == []


def test_a_request_without_a_session_reads_nothing(app: Flask, services: Orderwire) -> None:
    accepted = place(browser(app), services)
    stranger = app.test_client()  # no cookie at all
    assert stranger.get(f"/api/orders/{accepted['order_id']}").status_code == 404
    assert stranger.get(f"/api/commands/{accepted['request_id']}").status_code == 404


@pytest.mark.parametrize(("action", "body"), ACTIONS)
def test_another_session_cannot_act_on_my_order(
    app: Flask, services: Orderwire, engine: Engine, action: str, body: dict
) -> None:
    alice, bob = browser(app), browser(app)
    order_id = place(alice, services)["order_id"]
    before, key = command_count(engine), a_key("bob")

    answer = ApiClient(bob).post(f"/api/orders/{order_id}/{action}", body, key=key)
    unknown = ApiClient(bob).post(f"/api/orders/{uuid.uuid4()}/{action}", body)

    assert answer.status_code == unknown.status_code == 404
    assert answer.get_json() == unknown.get_json() == {
        "error": {"code": "not_found", "message": "no such order"}
    }
    assert command_count(engine) == before  # no trace
    assert alice.get(f"/api/orders/{order_id}").get_json()["status"] == "placed"


def test_another_session_cannot_act_on_my_order_through_the_forms(
    app: Flask, services: Orderwire, engine: Engine
) -> None:
    alice, bob = browser(app), browser(app)
    order_id = place(alice, services)["order_id"]
    before = command_count(engine)

    answer = bob.post(f"/orders/{order_id}/cancel",
                      data={"csrf_token": csrf_token(bob), "reason": "mine now"})

    assert answer.status_code == 404
    assert command_count(engine) == before


def test_an_order_being_placed_can_be_acted_on_by_its_own_session_at_once(
    app: Flask, services: Orderwire
) -> None:
    alice = browser(app)
    order_id = str(uuid.uuid4())
    place_answer = ApiClient(alice).post("/api/orders", {**ORDER, "order_id": order_id})
    pay = ApiClient(alice).post(f"/api/orders/{order_id}/pay", {})
    assert pay.status_code == 202  # the place is accepted, not run yet: the pay may follow

    assert str(execute_request(services, place_answer.get_json()["request_id"]).status) == (
        "succeeded"
    )
    assert str(execute_request(services, pay.get_json()["request_id"]).status) == "succeeded"
    assert alice.get(f"/api/orders/{order_id}").get_json()["status"] == "paid"


def test_a_refused_placement_no_longer_lets_the_session_act_on_that_order(
    app: Flask, services: Orderwire
) -> None:
    alice, bob = browser(app), browser(app)
    taken = place(alice, services)["order_id"]
    # Bob places an order under an id that is already Alice's: the worker refuses it...
    copied = ApiClient(bob).post("/api/orders", {**ORDER, "order_id": taken}).get_json()
    assert str(execute_request(services, copied["request_id"]).status) == "rejected"
    # ...and it does not give him a way in.
    assert ApiClient(bob).post(f"/api/orders/{taken}/cancel", {"reason": "x"}).status_code == 404
    assert bob.get(f"/api/orders/{taken}").status_code == 404


def test_the_worker_refuses_a_command_on_another_sessions_order_as_not_found(
    app: Flask, services: Orderwire, engine: Engine
) -> None:
    # A command that reached the log without the web's check (an older version, a script).
    order_id = place(browser(app), services)["order_id"]
    intruder = record_command(engine, "CancelOrder", {"order_id": order_id, "reason": "x"},
                              session_id="someone-else")

    outcome = services.execute(intruder)

    assert str(outcome.status) == "rejected" and outcome.error is not None
    assert outcome.error["code"] == "order_not_found"
