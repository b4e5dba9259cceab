"""Commands to and from the JSON payload stored in the command log (task args carry only ids)."""

from typing import Any

from domain.commands import COMMAND_TYPES, CancelOrder, Command, OrderLine, PlaceOrder
from domain.errors import InvalidCommand
from domain.money import money_text


def to_payload(command: Command) -> dict[str, Any]:
    if isinstance(command, PlaceOrder):
        return {
            "order_id": command.order_id,
            "customer_name": command.customer_name,
            "lines": [
                {
                    "product": line.product,
                    "quantity": line.quantity,
                    "unit_price": money_text(line.unit_price),
                }
                for line in command.lines
            ],
        }
    if isinstance(command, CancelOrder):
        return {"order_id": command.order_id, "reason": command.reason}
    return {"order_id": command.order_id}


def from_payload(name: str, payload: dict[str, Any]) -> Command:
    """Rebuild a command; raises InvalidCommand for anything that does not construct."""
    command_type = COMMAND_TYPES.get(name)
    if command_type is None:
        raise InvalidCommand(f"unknown command {name!r}", code="unknown_command")
    try:
        if command_type is PlaceOrder:
            lines = tuple(
                OrderLine(line["product"], line["quantity"], line["unit_price"])
                for line in payload["lines"]
            )
            return PlaceOrder(payload["order_id"], payload["customer_name"], lines)
        return command_type(**payload)
    except (KeyError, TypeError) as error:
        raise InvalidCommand(f"malformed {name} payload: {error}") from error
