"""What tests send: order bodies, their lines and command payloads, and fresh names, keys
and ids (like cosmicpython's tests/random_refs.py), so that tests sharing a database or a
running system never collide and never assume an empty one.

Each builder returns a new dict, so a test may change what it got.
"""

import uuid
from typing import Any


def a_suffix() -> str:
    return uuid.uuid4().hex[:8]


def a_name(prefix: str = "Customer") -> str:
    """A customer name no other test uses."""
    return f"{prefix} {a_suffix()}"


def a_key(prefix: str = "test") -> str:
    """A fresh Idempotency-Key."""
    return f"{prefix}-{uuid.uuid4()}"


def an_order_id() -> str:
    return str(uuid.uuid4())


def a_line(
    product: str = "Analytical Engine", quantity: int = 1, unit_price: str = "999.90"
) -> dict[str, Any]:
    return {"product": product, "quantity": quantity, "unit_price": unit_price}


def order_body(
    name: str = "Ada Lovelace", *lines: dict[str, Any], order_id: str | None = None
) -> dict[str, Any]:
    """The body of POST /api/orders: one default line unless `lines` are given; the server
    picks the order id unless `order_id` is given."""
    body: dict[str, Any] = {"customer_name": name, "lines": list(lines) or [a_line()]}
    if order_id is not None:
        body["order_id"] = order_id
    return body


# The order most tests place: valid, and nothing about it matters to them.
ORDER = order_body()


def place_order_payload(order_id: str | None = None, name: str = "Ada") -> dict[str, Any]:
    """A PlaceOrder command's payload as the command log stores it (its order id chosen)."""
    return order_body(name, a_line("tea", 2, "1.25"), order_id=order_id or an_order_id())


def form_fields(
    name: str = "Ada", product: str = "tea", quantity: str = "1", unit_price: str = "1.00"
) -> dict[str, str]:
    """The page's order form (POST /orders) as a browser without scripts sends it: one line,
    every value a string."""
    return {"customer_name": name, "product": product, "quantity": quantity,
            "unit_price": unit_price}
