"""`GET /docs`: the API (`/openapi.json`) in Swagger UI, served from this app.

The viewer's files come from the flask-swagger-ui package (its `dist/` folder is the
Swagger UI release), so nothing is fetched from a CDN. Its own page has an inline
script, which the pages' Content-Security-Policy forbids; this one loads the same bundle
with a script of ours (static/js/docs.js) instead, under the same policy.
"""

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, abort, render_template, send_from_directory

bp = Blueprint("api_docs", __name__)

SWAGGER_UI = Path(flask_swagger_ui.__file__).parent / "dist"
# Only what the page uses: the package's folder also holds an OAuth redirect page.
ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css"})


@bp.get("/docs")
def docs() -> str:
    return render_template("docs.html")


@bp.get("/docs/assets/<name>")
def asset(name: str) -> Response:
    if name not in ASSETS:
        abort(404)
    response = send_from_directory(SWAGGER_UI, name)
    response.cache_control.max_age = 86400
    return response
