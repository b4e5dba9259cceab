"""The web's one table of commands: what is posted where, which command it builds, and the
schema of its body.

It drives the JSON routes (web/api/commands.py), the form routes (web/pages.py), the
OpenAPI paths (web/openapi.py) and the order's buttons on the page (templates/_macros.html),
so a command on an order is added here once. Which statuses allow it is the domain's
table (`domain.order.ALLOWED_IN`); each action carries it to the page's markup.

Routes: `POST /api/orders` places an order (JSON) and `POST /orders` is its form; an
action on an order is `POST /api/orders/<order_id>/<name>` (JSON) and
`POST /orders/<order_id>/<name>` (form).
"""

from dataclasses import dataclass

from marshmallow import Schema

from domain.commands import CancelOrder, Command, PayOrder, PlaceOrder, ShipOrder
from domain.order import ALLOWED_IN, OrderStatus, allowed_commands
from web.api.schemas import CancelOrderSchema, EmptySchema, PlaceOrderSchema


@dataclass(frozen=True)
class Action:
    """One command the web takes."""

    name: str  # the last segment of its paths
    command: type[Command]
    # Built once: a schema instance is stateless once built and safe to share between requests,
    # and building one per request (deep copies of every field) cost 3-4% of a POST's CPU.
    schema: Schema
    label: str  # its button on the page
    doing: str  # what the page shows while it is on its way
    subject: str  # what the page calls it when it "was refused" or "failed"

    @property
    def schema_name(self) -> str:
        """The body's name among the OpenAPI components: `CancelOrderSchema` is `CancelOrder`."""
        return type(self.schema).__name__.removesuffix("Schema")

    @property
    def body_required(self) -> bool:
        """A command with fields needs a body; one without takes no body at all as `{}`."""
        return bool(self.schema.fields)

    @property
    def allowed_in(self) -> tuple[str, ...]:
        """The order statuses that allow it, in lifecycle order (the domain's rule)."""
        allowed = ALLOWED_IN.get(self.command, frozenset())
        return tuple(status.value for status in OrderStatus if status in allowed)


PLACE_ORDER = Action(
    "orders", PlaceOrder, PlaceOrderSchema(), "Place order", "Placing the order…",
    "Placing the order",
)

# Commands on an existing order, in the order the page shows their buttons.
ORDER_ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action("pay", PayOrder, EmptySchema(), "Pay", "Paying…", "Payment"),
        Action("ship", ShipOrder, EmptySchema(), "Ship", "Shipping…", "Shipping"),
        Action(
            "cancel", CancelOrder, CancelOrderSchema(), "Cancel order", "Cancelling…",
            "Cancelling",
        ),
    )
}


def command_subject(command_name: str) -> str:
    """What the page calls a command in "… was refused": its action's words, else its name."""
    for action in (PLACE_ORDER, *ORDER_ACTIONS.values()):
        if action.command.name == command_name:
            return action.subject
    return command_name


def action_allowed(status: str | None, name: str) -> bool:
    """Whether an order in `status` takes the action called `name`."""
    action = ORDER_ACTIONS.get(name)
    return action is not None and action.command in allowed_commands(status or "")
