"""`.env` under `make run`: the environment wins, empty values count as unset, and the
banner line names what came from where without ever showing a value."""

from pathlib import Path

import pytest

from orderwire.env_file import EnvFileError, merge_env_file


def test_the_file_fills_in_what_the_environment_does_not_set(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=5103\nFLOWER_PORT=5104\n# a comment\nexport LOG_LEVEL='DEBUG'\n")

    merged, report = merge_env_file({"HOME": "/home/me"}, env_file)

    assert merged == {"HOME": "/home/me", "PORT": "5103", "FLOWER_PORT": "5104",
                      "LOG_LEVEL": "DEBUG"}
    assert report.loaded == ("PORT", "FLOWER_PORT", "LOG_LEVEL")
    assert report.describe() == f"{env_file}: PORT, FLOWER_PORT, LOG_LEVEL loaded"


def test_the_environment_wins_over_the_file_and_the_banner_says_so(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=5103\nSECRET_KEY=from-the-file\n")

    merged, report = merge_env_file({"PORT": "5101"}, env_file)

    assert merged["PORT"] == "5101" and merged["SECRET_KEY"] == "from-the-file"
    assert report.overridden == ("PORT",)
    line = report.describe()
    assert "PORT kept from the environment, which wins" in line
    assert "from-the-file" not in line and "5101" not in line  # names, never values


def test_empty_values_in_the_file_count_as_unset(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("FLOWER_BASIC_AUTH=\nSECRET_KEY=\nPORT=5200\n")

    merged, report = merge_env_file({}, env_file)

    assert merged == {"PORT": "5200"}
    assert report.empty == ("FLOWER_BASIC_AUTH", "SECRET_KEY")
    assert "FLOWER_BASIC_AUTH, SECRET_KEY empty, so ignored" in report.describe()


def test_without_a_file_only_the_environment_applies(tmp_path: Path) -> None:
    merged, report = merge_env_file({"PORT": "5101"}, tmp_path / ".env")

    assert merged == {"PORT": "5101"} and not report.found
    assert report.describe().endswith("not found (only the environment and defaults apply)")


@pytest.mark.parametrize(
    ("line", "number"),
    [("PORT 5103", 2), ("BAD NAME=3", 2), ('"PORT=5103', 2), ("PORT='5103", 2)],
)
def test_a_line_that_is_not_name_equals_value_stops_with_its_number(
    tmp_path: Path, line: str, number: int
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"LOG_LEVEL=DEBUG\n{line}\nFLOWER_PORT=5104\n")

    with pytest.raises(EnvFileError, match=rf"\.env, line {number}: .* is not NAME=value"):
        merge_env_file({}, env_file)
