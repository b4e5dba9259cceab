"""What the API and the page say about a field that is wrong: one text per problem, in the
page's tone (a short sentence a person can act on).

The request schemas (web/api/schemas.py) answer with these texts, and the page script
checks fields as they are typed with the same texts and limits (`for_the_page()`, read
by static/js/messages.js), so the browser and the server never word a problem twice.
"""

from typing import Any

from domain import commands as rules

REQUIRED = "Required."
TOO_LONG = "At most {longest} characters."
NOT_TEXT = "Must be text."
CONTROL_CHARACTERS = "Must not contain control characters."
QUANTITY = f"A whole number from 1 to {rules.MAX_QUANTITY}."
PRICE_FORMAT = "A price like 12.50, with at most 2 decimals."
PRICE_RANGE = f"Above 0 and at most {rules.MAX_UNIT_PRICE}."
LINES = f"An order has 1 to {rules.MAX_LINES} lines."
REASON_REQUIRED = "Say why the order is cancelled."
UUID = "An id like 1b4e28ba-2fa1-11d2-883f-0016d3cca427."


def for_the_page() -> dict[str, Any]:
    """The texts and the limits they speak of, as the page script needs them."""
    return {
        "messages": {
            "required": REQUIRED,
            "too_long": TOO_LONG,
            "control_characters": CONTROL_CHARACTERS,
            "quantity": QUANTITY,
            "price_format": PRICE_FORMAT,
            "price_range": PRICE_RANGE,
            "lines": LINES,
            "reason_required": REASON_REQUIRED,
        },
        "limits": {
            "customer_name": rules.MAX_NAME,
            "product": rules.MAX_PRODUCT,
            "reason": rules.MAX_REASON,
            "quantity": rules.MAX_QUANTITY,
            "unit_price": str(rules.MAX_UNIT_PRICE),
            "lines": rules.MAX_LINES,
        },
        # Unicode categories refused in text (domain.commands.has_control_characters).
        "control_categories": sorted(rules.FORBIDDEN_CATEGORIES),
    }
