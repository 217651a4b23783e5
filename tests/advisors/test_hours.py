"""Working hours: at work or not, and when the advisor is back, in the advisor's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from advisors.hours import InvalidHoursError, availability, parse_ranges
from advisors.models import Advisor

BOGOTA = ZoneInfo("America/Bogota")
OFFICE = {"mon": ["08:00-12:00", "14:00-18:00"], "tue": ["08:00-18:00"], "sat": ["09:00-13:00"]}


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=BOGOTA)  # 23 Nov 2026 is a Monday


def test_inside_a_range_the_advisor_is_available() -> None:
    assert availability(OFFICE, "America/Bogota", at=_at(23, 9)).available
    assert availability(OFFICE, "America/Bogota", at=_at(23, 14)).available


def test_at_lunch_in_the_evening_and_on_sunday_the_next_start_is_given() -> None:
    lunch = availability(OFFICE, "America/Bogota", at=_at(23, 12, 30))
    assert not lunch.available and lunch.back_at == _at(23, 14)
    evening = availability(OFFICE, "America/Bogota", at=_at(23, 19))
    assert evening.back_at == _at(24, 8)
    sunday = availability(OFFICE, "America/Bogota", at=_at(29, 10))
    assert sunday.back_at == _at(30, 8)


def test_the_time_zone_is_the_advisors_not_the_servers() -> None:
    utc_noon = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 12:00 in Bogotá: lunch
    assert not availability(OFFICE, "America/Bogota", at=utc_noon).available
    assert availability(OFFICE, "Europe/Madrid", at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC)).available


def test_no_hours_means_always_available() -> None:
    found = availability({}, "America/Bogota", at=_at(29, 3))
    assert found.available and found.back_at is None


@pytest.mark.parametrize("bad", ["8-12", "12:00-08:00", "25:00-26:00", "08:00"])
def test_unreadable_ranges_are_refused_clearly(bad: str) -> None:
    with pytest.raises(InvalidHoursError, match=bad.split("-")[0]):
        parse_ranges([bad])


def _advisor(**settings: object) -> Advisor:
    return Advisor.model_validate(
        {
            "id": uuid4(),
            "name": "Ana",
            "phone_number": "+573001234567",
            "twilio_phone_number": "+14155238886",
            "is_active": True,
            "settings": settings,
        }
    )


def test_the_agent_is_told_when_the_advisor_is_back_and_the_away_message_says_it() -> None:
    ana = _advisor(working_hours=OFFICE, time_zone="America/Bogota", language="es")
    prompt = ana.moment(at=_at(23, 19))
    assert "fuera de horario" in prompt and "mañana a las 08:00" in prompt
    assert "en horario" in ana.moment(at=_at(23, 9))
    assert ana.away_message(at=_at(23, 19)).endswith("vuelvo mañana a las 08:00.")
    english = ana.away_message(customer_language="en", at=_at(23, 19))
    assert english.startswith("Hi, this is Ana.") and english.endswith("back tomorrow at 08:00.")
    assert "horario" not in _advisor().moment()


def test_the_agent_always_knows_todays_date_in_the_advisors_zone() -> None:
    """Without working hours too: a date it states must come from somewhere it was given."""
    prompt = _advisor(time_zone="America/Bogota").moment(at=_at(23, 19))
    assert prompt == "Hoy es lunes 23/11/2026 (America/Bogota)."


def test_what_the_agent_is_told_of_the_moment_changes_only_with_the_day_or_the_hours_status() -> None:
    """No clock in the prompt: a line that changed every minute would defeat the model's cache."""
    ana = _advisor(working_hours=OFFICE, time_zone="America/Bogota")
    morning = {ana.moment(at=_at(23, hour, minute)) for hour in (9, 10, 11) for minute in (1, 37)}
    assert morning == {"Hoy es lunes 23/11/2026 (America/Bogota). Ana está en horario de trabajo."}
    assert ana.moment(at=_at(23, 19)) != ana.moment(at=_at(23, 9))  # closing time changes it
    assert ana.moment(at=_at(24, 9)) != ana.moment(at=_at(23, 9))  # so does the day


def test_a_mistyped_setting_never_stops_the_advisor_from_loading() -> None:
    ana = _advisor(working_hours={"mon": ["8 to 12"], "tue": ["08:00-12:00"]}, time_zone="Mars/Olympus")
    assert ana.settings.working_hours == {"tue": ["08:00-12:00"]}
    assert ana.settings.time_zone == "America/Bogota"
