"""Checks on a `/ws` handshake, made before flask-sock accepts the upgrade.

They run as a `before_request` hook, so a refusal is a plain HTTP answer (403, 401)
and no websocket is ever opened for it.

Compression is refused here too. simple-websocket accepts permessage-deflate
whenever a client offers it (every browser does) and then keeps a zlib compressor
and decompressor per connection for as long as it is open: measured in
docs/serving.md, that is most of what an idle socket costs, for frames of a few
hundred bytes that hardly shrink. flask-sock constructs `simple_websocket.Server`
itself, so it cannot be subclassed or configured; instead the offer is taken out of
the request before the Server reads it. The negotiation then sees no offer and
answers without the extension, which RFC 7692 allows.
"""

from flask import abort, current_app, request

from web.extensions import services
from web.sessions import existing_session_id

EXTENSIONS_HEADER = "HTTP_SEC_WEBSOCKET_EXTENSIONS"


def allowed_origin(origin: str | None) -> bool:
    """Same origin as the page, or one listed in ALLOWED_ORIGINS. No Origin (a non-browser
    client) is allowed: browsers always send one, and a cookie-less script gains nothing."""
    if origin is None:
        return True
    own = request.host_url.rstrip("/")
    return origin.rstrip("/") in (own, *services.settings().allowed_origins)


def check_handshake() -> None:
    """403 for a foreign Origin, 401 without a session; drops a compression offer."""
    if not allowed_origin(request.headers.get("Origin")):
        abort(403)
    if existing_session_id() is None:
        abort(401)
    if not current_app.config.get("WEBSOCKET_COMPRESSION", False):
        request.environ.pop(EXTENSIONS_HEADER, None)
