"""Owns an advisor's working hours: whether they are at work now, and when they are back.

The hours live in `advisors.settings` as `time_zone` (an IANA name, e.g. "America/Bogota") and
`working_hours`: weekday → list of "HH:MM-HH:MM" ranges, weekdays as "mon" … "sun". No hours
set means always available: the AI then never promises a time it does not know.

    {"time_zone": "America/Bogota",
     "working_hours": {"mon": ["08:00-12:00", "14:00-18:00"], "sat": ["09:00-13:00"]}}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How the console writes the days, by language; it reads either language's, accents or not.
DAY_NAMES: dict[str, tuple[str, ...]] = {
    "en": WEEKDAYS,
    "es": ("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
}
_DAY_OF = {
    **{name: day for names in DAY_NAMES.values() for name, day in zip(names, WEEKDAYS, strict=True)},
    "mie": "wed",
    "sab": "sat",
}
_RANGE = re.compile(r"^\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-4]):([0-5]\d)\s*$")


class InvalidHoursError(ValueError):
    """Working hours or a time zone that cannot be read.

    `reason` ("range", "order", "day", "zone") and `value` let a page say it in its own language;
    the message is the English one the API and the command line show.
    """

    def __init__(self, message: str, *, reason: str, value: str) -> None:
        super().__init__(message)
        self.reason, self.value = reason, value


@dataclass(frozen=True)
class Availability:
    """Whether the advisor is at work at `now`, and if not, when they start again (local time)."""

    now: datetime
    available: bool
    back_at: datetime | None  # None while available, or when no hours are set at all


def parse_ranges(ranges: list[str]) -> list[tuple[time, time]]:
    """Read "HH:MM-HH:MM" ranges; the end may be 24:00; an end before its start is refused."""
    parsed = []
    for text in ranges:
        match = _RANGE.match(text)
        if not match:
            raise InvalidHoursError(f"«{text}» is not a range like 08:00-12:00", reason="range", value=text)
        start = time(int(match[1]), int(match[2]))
        end = time.max if match[3] == "24" else time(int(match[3]), int(match[4]))
        if end <= start:
            raise InvalidHoursError(f"«{text}» ends before it starts", reason="order", value=text)
        parsed.append((start, end))
    return sorted(parsed)


def parse_week(text: str) -> dict[str, list[str]]:
    """Read the console's form: one line per day, "mon 08:00-12:00 14:00-18:00" (or "lun …"); blank = none."""
    week: dict[str, list[str]] = {}
    for line in text.splitlines():
        words = line.replace(",", " ").split()
        if not words:
            continue
        day = _DAY_OF.get(words[0].lower().rstrip(":"))
        if day is None:
            raise InvalidHoursError(
                f"«{words[0]}» is not one of {', '.join(WEEKDAYS)}", reason="day", value=words[0]
            )
        parse_ranges(words[1:])
        week[day] = week.get(day, []) + words[1:]
    return week


def format_week(hours: dict[str, list[str]], language: str = "en") -> str:
    """The inverse of `parse_week`, for the console's form, the days in the page's language."""
    names = DAY_NAMES.get(language, WEEKDAYS)
    return "\n".join(
        f"{name} {' '.join(hours[day])}" for day, name in zip(WEEKDAYS, names, strict=True) if hours.get(day)
    )


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`, refused clearly when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidHoursError(f"unknown time zone «{name}»", reason="zone", value=name) from error


def availability(hours: dict[str, list[str]], time_zone: str, *, at: datetime) -> Availability:
    """Whether `at` falls in the working hours (in the advisor's zone), else the next start."""
    local = at.astimezone(zone(time_zone))
    week = {day: parse_ranges(hours.get(day, [])) for day in WEEKDAYS}
    if not any(week.values()):
        return Availability(now=local, available=True, back_at=None)
    today = week[WEEKDAYS[local.weekday()]]
    if any(start <= local.time() < end for start, end in today):
        return Availability(now=local, available=True, back_at=None)
    for days_ahead in range(8):
        day = (local + timedelta(days=days_ahead)).date()
        for start, _ in week[WEEKDAYS[day.weekday()]]:
            candidate = datetime.combine(day, start, tzinfo=local.tzinfo)
            if candidate > local:
                return Availability(now=local, available=False, back_at=candidate)
    return Availability(now=local, available=False, back_at=None)  # unreachable with any range set
