"""Redis Stream ids ("1732356000123-0") as comparable positions."""


def position_key(position: str) -> tuple[int, int]:
    milliseconds, _, sequence = position.partition("-")
    return int(milliseconds), int(sequence or 0)


def is_after(position: str, other: str | None) -> bool:
    return other is None or position_key(position) > position_key(other)
