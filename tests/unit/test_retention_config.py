"""ORDERWIRE_RETENTION_DAYS: how long the relay keeps published events and finished commands."""

import pytest

from orderwire.config import ConfigError, Settings


def test_retention_is_a_week_unless_configured() -> None:
    assert Settings.from_env({}).retention_days == 7
    assert Settings.from_env({"ORDERWIRE_RETENTION_DAYS": "30"}).retention_days == 30


@pytest.mark.parametrize("value", ["0", "-1", "seven", "3651"])
def test_a_retention_that_is_not_a_sensible_number_of_days_is_refused(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"ORDERWIRE_RETENTION_DAYS": value})
    assert "ORDERWIRE_RETENTION_DAYS" in str(raised.value)
