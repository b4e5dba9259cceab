"""`.env` for `make run`: read once, by the launcher, before anything is printed or started;
and by the standalone `orderwire` commands (`tail`, `migrate`, ...), so they use what it uses.

The environment wins over the file (as docker compose and python-dotenv do), so a
variable set on the command line is never silently replaced; an empty value in the
file counts as unset. The launcher prints what it took from where, and hands the
merged environment to every process, so what it prints is what they use.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class EnvFileError(Exception):
    """A line of .env that is not `NAME=value`: nothing starts rather than guess."""


@dataclass(frozen=True)
class EnvFileReport:
    path: Path
    found: bool
    loaded: tuple[str, ...] = ()
    overridden: tuple[str, ...] = ()  # in the file, but the environment's value wins
    empty: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the banner: names only, never values (secrets live in .env)."""
        if not self.found:
            return f"{self.path} not found (only the environment and defaults apply)"
        parts = [f"{self.path}: " + (", ".join(self.loaded) or "nothing") + " loaded"]
        if self.overridden:
            parts.append(f"{', '.join(self.overridden)} kept from the environment, which wins")
        if self.empty:
            parts.append(f"{', '.join(self.empty)} empty, so ignored")
        return "; ".join(parts)


def merge_env_file(
    environ: Mapping[str, str], path: Path
) -> tuple[dict[str, str], EnvFileReport]:
    """The environment with the file's variables added where the environment has none."""
    merged = dict(environ)
    if not path.is_file():
        return merged, EnvFileReport(path, found=False)
    _check_syntax(path)
    loaded, overridden, empty = [], [], []
    for name, value in dotenv_values(path).items():
        if not value:
            empty.append(name)
        elif environ.get(name):
            overridden.append(name)
        else:
            merged[name] = value
            loaded.append(name)
    return merged, EnvFileReport(
        path, found=True, loaded=tuple(loaded), overridden=tuple(overridden), empty=tuple(empty)
    )


def _check_syntax(path: Path) -> None:
    """python-dotenv skips a line it cannot parse with a warning, and takes `"NAME=1` as a
    variable named `"NAME`; either would be a setting silently lost."""
    with path.open(encoding="utf-8") as stream:
        for binding in parse_stream(stream):
            if binding.error or (binding.key is not None
                                 and not VARIABLE_NAME.fullmatch(binding.key)):
                line = binding.original.string.strip()
                raise EnvFileError(
                    f"{path}, line {binding.original.line}: {line!r} is not NAME=value"
                )
