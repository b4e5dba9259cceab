"""What every page gets besides its route: the headers that keep it safe, the Origin check
on its forms, and what its templates may call (the action table, the field messages, the
settings the page script reads).

Kept out of the pages blueprint (web/pages.py), which holds only routes.
"""

import logging

from flask import Flask, Response, abort, request

from domain.order import STATUS_AFTER
from web.actions import ORDER_ACTIONS, PLACE_ORDER, action_allowed, command_subject
from web.api import messages
from web.extensions import services
from web.live.handshake import allowed_origin

log = logging.getLogger("orderwire.web")

# Pages are rendered on the server and escaped there; nothing inline may run, so an
# escaping mistake could not become a script either.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def same_origin_forms() -> None:
    """A form POST from a foreign Origin is refused (403) even with a valid CSRF token: the
    token is the first defence (checked before this), the Origin a second that needs no
    state. The rule is the websocket's (web/live/handshake.py): the site's own origin or one in
    ALLOWED_ORIGINS; no Origin at all is a non-browser client, which the token still checks."""
    if (
        request.blueprint == "pages"
        and request.method == "POST"
        and not allowed_origin(request.headers.get("Origin"))
    ):
        log.info("form from a foreign origin refused", extra={"event": "form.foreign_origin"})
        abort(403)


def page_headers(response: Response) -> Response:
    """On every HTML answer: error pages and /docs are pages too."""
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def currency() -> str:
    """ORDERWIRE_CURRENCY, for the amounts the page writes and its script formats."""
    return services.settings().currency


def heartbeat_seconds() -> int:
    """ORDERWIRE_HEARTBEAT_SECONDS: the page script counts silence in heartbeats."""
    return services.settings().heartbeat_seconds


def order_lifecycle() -> dict[str, dict[str, str]]:
    """What the page script needs beyond each action's data attributes: the status each
    order event leaves an order in (the domain's), and what each command is called when
    it was refused or failed (the action table's)."""
    return {
        "status_after": {event.name: status.value for event, status in STATUS_AFTER.items()},
        "command_subjects": {
            action.command.name: action.subject for action in (PLACE_ORDER, *ORDER_ACTIONS.values())
        },
    }


def init_app(app: Flask) -> None:
    """Call after the rate limit's `init_app`: a foreign form is counted, then refused."""
    app.before_request(same_origin_forms)
    app.after_request(page_headers)
    app.add_template_global(messages.for_the_page, "field_messages")
    app.add_template_global(action_allowed)
    app.add_template_global(command_subject)
    app.jinja_env.globals.update(order_action_table=ORDER_ACTIONS, place_order=PLACE_ORDER)
    app.add_template_global(order_lifecycle)
    app.add_template_global(currency)
    app.add_template_global(heartbeat_seconds)
