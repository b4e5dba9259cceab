"""The frame around the pages: error pages in the page's own style, and the favicon.

Pages and the API share URLs' first segments (`/orders/…`, `/api/orders/…`), so which one
answers an error is decided by the path: under `/api/` it is JSON (web/api/errors.py),
anywhere else a page a person can read, with a way back.
"""

from pathlib import Path

from flask import Blueprint, Response, render_template, send_from_directory
from werkzeug.exceptions import HTTPException

bp = Blueprint("site", __name__)

STATIC = Path(__file__).parent / "static"

# What a person is told for each error a page can meet; anything else gets Werkzeug's name.
EXPLANATIONS = {
    404: ("Page not found", "There is nothing at this address. If you followed a link to an "
          "order, it may belong to another browser, or the address may be mistyped."),
    405: ("Not allowed", "This address does not take that kind of request."),
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    429: ("Too many requests", "Too many requests just now. Wait a moment and try again."),
}


def error_page(error: HTTPException) -> tuple[str, int, dict[str, str]]:
    status = error.code or 500
    title, explanation = EXPLANATIONS.get(status, (error.name, error.description or ""))
    headers = dict(error.get_headers()) if status in (405, 429) else {}
    headers.pop("Content-Type", None)
    return (
        render_template("error.html", status=status, title=title, explanation=explanation),
        status,
        headers,
    )


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page's <link rel=icon> says."""
    response = send_from_directory(STATIC, "favicon.svg", mimetype="image/svg+xml")
    response.cache_control.max_age = 86400
    return response
