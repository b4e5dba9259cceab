"""The web's one action table (web/actions.py): every command has one entry, each entry
follows the domain's lifecycle, and the OpenAPI paths are generated from it."""

import pytest

from domain.commands import COMMAND_TYPES
from domain.order import ALLOWED_IN, OrderStatus, allowed_commands
from web.actions import ORDER_ACTIONS, PLACE_ORDER, action_allowed, command_subject
from web.openapi import build_spec

EVERY_ACTION = (PLACE_ORDER, *ORDER_ACTIONS.values())


def test_every_command_has_exactly_one_action() -> None:
    commands = [action.command for action in EVERY_ACTION]
    assert sorted(command.name for command in commands) == sorted(COMMAND_TYPES)


def test_the_actions_on_an_order_are_the_commands_the_lifecycle_knows() -> None:
    assert {action.command for action in ORDER_ACTIONS.values()} == set(ALLOWED_IN)
    assert list(ORDER_ACTIONS) == ["pay", "ship", "cancel"]  # the page's button order


def test_each_action_carries_the_statuses_the_domain_allows_it_in() -> None:
    assert ORDER_ACTIONS["pay"].allowed_in == ("placed",)
    assert ORDER_ACTIONS["ship"].allowed_in == ("paid",)
    assert ORDER_ACTIONS["cancel"].allowed_in == ("placed", "paid")
    assert PLACE_ORDER.allowed_in == ()  # it makes the order: no status to be in


@pytest.mark.parametrize("status", [*OrderStatus, "pending", "", None])
def test_an_action_is_allowed_exactly_when_the_domain_allows_its_command(
    status: str | None,
) -> None:
    for name, action in ORDER_ACTIONS.items():
        expected = action.command in allowed_commands(status or "")
        assert action_allowed(status, name) is expected, (status, name)


def test_an_unknown_action_is_never_allowed() -> None:
    assert not action_allowed("placed", "refund")


def test_every_action_says_what_the_page_shows_while_it_is_on_its_way() -> None:
    assert {action.name: action.doing for action in EVERY_ACTION} == {
        "orders": "Placing the order…", "pay": "Paying…", "ship": "Shipping…",
        "cancel": "Cancelling…",
    }


def test_a_refused_command_is_called_by_its_actions_words_or_else_by_its_name() -> None:
    assert command_subject("PayOrder") == "Payment"
    assert command_subject("PlaceOrder") == "Placing the order"
    assert command_subject("RefundOrder") == "RefundOrder"


def test_a_body_is_required_exactly_when_the_schema_has_fields() -> None:
    assert PLACE_ORDER.body_required and ORDER_ACTIONS["cancel"].body_required
    assert not ORDER_ACTIONS["pay"].body_required and not ORDER_ACTIONS["ship"].body_required


def test_the_bodies_keep_their_openapi_names() -> None:
    names = {action.name: action.schema_name for action in EVERY_ACTION}
    assert names == {"orders": "PlaceOrder", "pay": "Empty", "ship": "Empty",
                     "cancel": "CancelOrder"}


def test_the_openapi_command_paths_are_generated_from_the_table() -> None:
    paths = build_spec()["paths"]
    commands = {
        path: item["post"] for path, item in paths.items() if "post" in item
    }
    expected = {"/api/orders": PLACE_ORDER} | {
        f"/api/orders/{{order_id}}/{name}": action for name, action in ORDER_ACTIONS.items()
    }
    assert set(commands) == set(expected)
    for path, operation in commands.items():
        action = expected[path]
        assert operation["summary"] == action.command.name
        body = operation["requestBody"]
        assert body["required"] is action.body_required
        assert body["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{action.schema_name}"
        }
