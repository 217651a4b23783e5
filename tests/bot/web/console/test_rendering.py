"""Numbers and durations are written the page's language's way (bot.web.console.rendering)."""

from __future__ import annotations

import pytest

from bot.web.console.rendering import minutes, number


@pytest.mark.parametrize(
    ("value", "digits", "spanish", "english"),
    [
        (1.4, 1, "1,4", "1.4"),
        (1234567.891, 2, "1.234.567,89", "1,234,567.89"),
        (0.0174, 4, "0,0174", "0.0174"),
        (100, 0, "100", "100"),
    ],
)
def test_numbers_are_written_as_the_language_writes_them(
    value: float, digits: int, spanish: str, english: str
) -> None:
    assert number(value, digits, "es") == spanish
    assert number(value, digits, "en") == english


@pytest.mark.parametrize(
    ("value", "spanish", "english"),
    [
        (1.4, "1,4 min", "1.4 min"),
        (42.4, "42 min", "42 min"),
        (84.6, "1 h 25 min", "1 h 25 min"),
        (120, "2 h", "2 h"),
    ],
)
def test_durations_read_as_minutes_or_hours(value: float, spanish: str, english: str) -> None:
    assert minutes(value, "es") == spanish
    assert minutes(value, "en") == english
