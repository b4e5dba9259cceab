"""Commands to and from the JSON payload stored in the command log (task args carry only ids).

The payload is the command's own `as_dict` (`dataclasses.asdict`, amounts as text), and
`from_dict` rebuilds it, validating on construction as every command does."""

from typing import Any

from domain.commands import COMMAND_TYPES, Command
from domain.errors import InvalidCommand


def to_payload(command: Command) -> dict[str, Any]:
    return command.as_dict()


def from_payload(name: str, payload: dict[str, Any]) -> Command:
    """Rebuild a command; raises InvalidCommand for anything that does not construct."""
    command_type = COMMAND_TYPES.get(name)
    if command_type is None:
        raise InvalidCommand(f"unknown command {name!r}", code="unknown_command")
    try:
        return command_type.from_dict(payload)
    except (KeyError, TypeError) as error:
        raise InvalidCommand(f"malformed {name} payload: {error}") from error
