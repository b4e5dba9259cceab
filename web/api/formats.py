"""The request formats the JSON Schema of /openapi.json states and the server enforces, in
one place, so the two are the same rule rather than two descriptions of it.

- Text (names, products, reasons): trimmed, then 1 to N characters, none of them a control,
  format, surrogate, private-use, or line/paragraph separator character
  (`domain.commands.has_control_characters`). The pattern is built from the same Unicode
  categories, and says the trimming too: whitespace may surround the text.
- Prices as text: a plain decimal above 0 and at most 100000 with at most 2 decimal places
  (`12.50`); no sign, exponent or surrounding spaces.
- Prices as JSON numbers: a whole number of cents up to binary floating-point rounding (a
  JSON number is a double: `0.1 * 3` arrives as 0.30000000000000004, which is 0.30).
- Ids: UUIDs in their canonical, hyphenated form (any case), as JSON Schema's `uuid` format.

The server matches whole strings (`fullmatch`), as validators whose `$` means the end of
the text do (Rust's, which schemathesis uses; Python's `re.search` would also let `$`
match before one final newline).
"""

import functools
import math
import re
import unicodedata
import uuid
from collections.abc import Callable
from decimal import Decimal

from domain.commands import FORBIDDEN_CATEGORIES, MAX_UNIT_PRICE

# [0-9], not \d: \d takes every script's digits, in Python as in most regex dialects.
PRICE_TEXT = re.compile(
    r"^(?:[1-9][0-9]{0,4}(?:\.[0-9]{1,2})?|0\.(?:0[1-9]|[1-9][0-9]?)|100000(?:\.00?)?)$"
)
UUID_HYPHENS = (8, 13, 18, 23)


def _class_body(belongs: Callable[[str], bool]) -> str:
    """A regex character-class body of every character `belongs` accepts, as ranges of the
    characters themselves (no escapes: `\\U` is Python-only, `\\u{}` ECMA-only; a JSON
    Schema validator in any language reads the characters the same)."""
    ranges: list[tuple[int, int]] = []
    for code_point in range(0x110000):
        if 0xD800 <= code_point <= 0xDFFF or not belongs(chr(code_point)):
            continue
        if ranges and ranges[-1][1] == code_point - 1:
            ranges[-1] = (ranges[-1][0], code_point)
        else:
            ranges.append((code_point, code_point))

    def literal(code_point: int) -> str:
        char = chr(code_point)
        return f"\\{char}" if char in "\\[]^-" else char

    return "".join(
        literal(low) if low == high else f"{literal(low)}-{literal(high)}" for low, high in ranges
    )


@functools.cache
def _character_classes() -> tuple[str, str]:
    """Whitespace, and the forbidden characters: one pass each over Unicode, once."""
    return (
        _class_body(str.isspace),
        _class_body(lambda char: unicodedata.category(char) in FORBIDDEN_CATEGORIES),
    )


@functools.cache
def text_pattern(longest: int) -> str:
    """Whitespace, then 1 to `longest` allowed characters that begin and end with a
    non-space, then whitespace: exactly what survives `str.strip()` and the checks.
    Whitespace is Python's (`str.isspace`, what `strip` removes), spelled out, because
    `\\s` means something slightly different in each regex dialect. Unpaired surrogates
    (refused too) are left out: no UTF-8 text, and no regex engine in Rust, holds one."""
    space, bad = _character_classes()
    edge = f"[^{space}{bad}]"
    return f"^[{space}]*{edge}(?:[^{bad}]{{0,{longest - 2}}}{edge})?[{space}]*$"


def price_from_text(text: str) -> Decimal | None:
    return Decimal(text) if PRICE_TEXT.fullmatch(text) else None


def price_from_number(number: float | int) -> Decimal | None:
    """The price in cents a JSON number stands for, or None if it is not a whole number
    of cents (beyond a few units in the last place of a double) or out of range."""
    # The range first: it also turns away NaN, infinities and numbers whose cents would
    # overflow a float (1e308 * 100), before any arithmetic.
    if isinstance(number, bool) or not 0 < number <= MAX_UNIT_PRICE:
        return None
    cents = round(number * 100)
    if abs(cents / 100 - number) > 4 * math.ulp(number):
        return None
    price = Decimal(cents) / 100
    return price if price > 0 else None


def canonical_uuid(raw: str) -> str | None:
    """The UUID in lower-case hyphenated form, or None unless `raw` is one in that form."""
    if len(raw) != 36 or any(raw[position] != "-" for position in UUID_HYPHENS):
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return None
