"""Domain errors. Each carries a stable, machine-readable `code`.

A `DomainError` is a business decision ("you cannot ship an unpaid order"): the
command ends `rejected` with that code and is never retried.
"""


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidCommand(DomainError):
    """A command could not be constructed: one of its own invariants failed."""

    code = "invalid_command"


class OrderNotFound(DomainError):
    code = "order_not_found"


class OrderAlreadyExists(DomainError):
    code = "order_already_exists"


class IllegalTransition(DomainError):
    """The order's current status does not allow the requested step."""
