"""A command's status in the command log, and which statuses are final (no SQLAlchemy here:
the pipeline's behaviours use these without knowing how the log is stored)."""

from enum import StrEnum


class CommandStatus(StrEnum):
    ACCEPTED = "accepted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"
    FAILED = "failed"


FINAL = frozenset({CommandStatus.SUCCEEDED, CommandStatus.REJECTED, CommandStatus.FAILED})
UNFINISHED = (CommandStatus.ACCEPTED, CommandStatus.RUNNING)
