"""The browser session: a random id in Flask's signed cookie, made on first contact.

It decides which events a websocket receives and which orders "My orders" lists.
"""

import secrets
import time

from flask import Flask, request, session
from flask.sessions import SecureCookieSessionInterface, SessionMixin


def session_id() -> str:
    if "sid" not in session:
        session["sid"] = secrets.token_urlsafe(18)
        session.permanent = True
    return session["sid"]


def existing_session_id() -> str | None:
    """The session id if the cookie carries one (the websocket never makes a new one)."""
    return session.get("sid")


class SchemeAwareSessionInterface(SecureCookieSessionInterface):
    """The cookie is `Secure` in production, and whenever the request came over TLS (as
    the trusted proxy reports it, web/proxies.py): a browser then never sends it in clear."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or request.is_secure

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        """A permanent session's cookie is renewed (its 30 days start again) at most once a
        day, not on every response: signing a new cookie cost a tenth of a POST's CPU
        (docs/benchmarks.md). Its last renewal rides in the cookie itself."""
        now = int(time.time())
        if not session.modified:
            if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
                return False
            if now - int(session.get(RENEWED, 0)) < RENEW_AFTER_SECONDS:
                return False
        if session.permanent:
            session[RENEWED] = now  # written into the cookie this response sets
        return True


# Where the session keeps when its cookie was last renewed (Unix seconds).
RENEWED = "renewed"
RENEW_AFTER_SECONDS = 24 * 3600
