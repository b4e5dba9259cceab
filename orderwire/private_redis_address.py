"""Where `make run`'s private Redis is: `var/redis-url`, written while it runs.

The private Redis listens on a free port that changes every run, so `make tail` and
the other `orderwire` commands read its address here when REDIS_URL is unset. The
launcher removes the file when it stops the Redis; a file left by a launcher that
was killed outright names a port where nothing answers, and readers ignore it.
"""

import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

FILE_NAME = "redis-url"


@dataclass(frozen=True)
class RecordedRedis:
    url: str
    path: Path
    answering: bool


def record(var: Path, url: str) -> Path:
    path = var / FILE_NAME
    temporary = path.with_suffix(".tmp")
    temporary.write_text(url + "\n")
    temporary.replace(path)  # readers never see half a URL
    return path


def forget(var: Path) -> None:
    (var / FILE_NAME).unlink(missing_ok=True)


def recorded(var: Path) -> RecordedRedis | None:
    """The recorded address, and whether something still listens there; None if no file."""
    path = var / FILE_NAME
    try:
        url = path.read_text().strip()
    except FileNotFoundError:
        return None
    return RecordedRedis(url, path, answering=_listening(url))


def _listening(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "", parsed.port or 6379), 0.5):
            return True
    except (OSError, ValueError):
        return False
