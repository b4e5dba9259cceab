"""One API client for the tests (like cosmicpython's tests/e2e/api_client.py): post a
command with an Idempotency-Key, follow its status, read orders, as one browser session.

It drives either transport with the same calls: a requests.Session against a running
system (`base_url` set), or Flask's test client in-process (`base_url` empty). It hands
back each transport's own response, so a test reads it as it always has.
"""

import json
from typing import Any
from uuid import uuid4

import requests

from orderwire.command_status import FINAL
from tools.harness.waiting import wait_for

JSON = "application/json"


class ApiClient:
    def __init__(
        self, http: Any, base_url: str = "", *, key_prefix: str | None = None,
        transport: dict[str, Any] | None = None,
    ) -> None:
        """`http`: a requests.Session or a Flask test client. `key_prefix`: when set, a post
        that names no key gets a fresh one, `<prefix>-<uuid>`. `transport`: passed on with
        every request (the test client's `environ_base`, say)."""
        self.http = http
        self.base_url = base_url
        self.key_prefix = key_prefix
        # requests waits forever unless told; the test client takes no timeout at all.
        timeout = {"timeout": 10} if isinstance(http, requests.Session) else {}
        self.transport = {**timeout, **(transport or {})}

    def post(
        self, path: str, body: Any = None, *, key: str | None = None,
        raw: str | bytes | None = None, content_type: str | None = JSON,
        headers: dict[str, str] | None = None, **transport: Any,
    ) -> Any:
        """POST `body` as JSON (or `raw` bytes as they are) with `key` as Idempotency-Key;
        `content_type=None` sends none. `transport`: passed on (e.g. environ_base)."""
        sent = dict(headers or {})
        if content_type is not None:
            sent.setdefault("Content-Type", content_type)
        if key is None and self.key_prefix is not None:
            key = f"{self.key_prefix}-{uuid4()}"
        if key is not None:
            sent["Idempotency-Key"] = key
        data = raw if raw is not None else json.dumps(body)
        return self.http.post(f"{self.base_url}{path}", data=data, headers=sent,
                              **{**self.transport, **transport})

    def get(self, path: str, **transport: Any) -> Any:
        return self.http.get(f"{self.base_url}{path}", **{**self.transport, **transport})

    def command(self, request_id: str) -> dict[str, Any]:
        """GET /api/commands/<request_id>: the command's status, as JSON."""
        return _json(self.get(f"/api/commands/{request_id}"))

    def wait_until_final(self, request_id: str, timeout: float = 30) -> dict[str, Any]:
        def final() -> dict[str, Any] | None:
            status = self.command(request_id)
            return status if status.get("status") in FINAL else None

        return wait_for(final, timeout=timeout, what=f"command {request_id} to finish")

    def orders(self) -> list[dict[str, Any]]:
        """GET /api/orders: this session's orders (the first page), as JSON."""
        return _json(self.get("/api/orders"))["orders"]

    def order(self, order_id: str) -> dict[str, Any]:
        """GET /api/orders/<order_id>: one of this session's orders, as JSON."""
        return _json(self.get(f"/api/orders/{order_id}"))


def _json(response: Any) -> Any:
    return response.json() if isinstance(response, requests.Response) else response.get_json()
