"""The browser session: a random id in Flask's signed cookie, made on first contact.

It decides which events a websocket receives and which orders "My orders" lists.
"""

import secrets

from flask import Flask, request, session
from flask.sessions import SecureCookieSessionInterface


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
