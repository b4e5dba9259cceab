"""Command endpoints: POST, validate, accept, 202 (CONTRACT.md section 2).

Routes only: which commands exist and their bodies is web/actions.py; reading, checking,
building and accepting them is web/api/intake.py, shared with the forms.
"""

from flask import Blueprint, Response

from web.actions import ORDER_ACTIONS
from web.api.intake import json_body, order_action_command, place_order_command, submit

bp = Blueprint("commands", __name__, url_prefix="/api")


@bp.post("/orders")
def place_order() -> Response:
    body = json_body(empty_is_object=False)
    return submit(place_order_command(body), body)


# One rule for every action in the table: another segment is a 404, a GET a 405, as with
# one rule per action.
@bp.post(f"/orders/<order_id>/<any({', '.join(ORDER_ACTIONS)}):action>")
def order_action(order_id: str, action: str) -> Response:
    command_action = ORDER_ACTIONS[action]
    body = json_body(empty_is_object=not command_action.body_required)
    return submit(order_action_command(command_action, order_id, body), body)
