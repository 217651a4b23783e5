"""Owns every fixed text a customer or an advisor reads, in Spanish and English: one catalogue.

The console's labels (`console`), the WhatsApp texts to customers and advisors (`messages`):
code names a text by key and never spells it. A key missing in a language, or a placeholder one
language has and the other lacks, is a test failure (tests/advisors/test_texts.py), never an
empty or half-filled message. It lives beside the advisors because it is theirs: the default
away message is an advisor setting's fallback, and everything below `bot` may read it.
"""

from __future__ import annotations

from datetime import datetime

from advisors.texts.console import CONSOLE
from advisors.texts.language import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    Language,
    guess_language,
    language_code,
)
from advisors.texts.messages import MESSAGES

__all__ = [
    "CATALOGUE",
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Language",
    "guess_language",
    "language_code",
    "pick_language",
    "spoken_time",
    "text",
]

CATALOGUE: dict[str, dict[Language, str]] = {**CONSOLE, **MESSAGES}


def text(key: str, language: Language, **values: object) -> str:
    """The text for `key` in `language`, its {placeholders} filled from `values`.

    An unknown key shows itself, so a test (or a reader) catches it instead of an empty message.
    """
    entry = CATALOGUE.get(key)
    if entry is None:
        return key
    template = entry.get(language) or entry[DEFAULT_LANGUAGE]
    return template.format(**values) if values else template


def pick_language(requested: str | None) -> Language:
    """The language asked for (cookie or `?lang=`), or Spanish."""
    for language in LANGUAGES:
        if requested == language:
            return language
    return DEFAULT_LANGUAGE


def spoken_time(moment: datetime, language: Language, *, now: datetime) -> str:
    """A moment in the coming week as people say it: "mañana a las 08:00", "on Monday at 09:00"."""
    clock = moment.strftime("%H:%M")
    days = (moment.date() - now.date()).days
    if days == 0:
        return text("when.today", language, time=clock)
    if days == 1:
        return text("when.tomorrow", language, time=clock)
    weekday = text(f"weekday.{moment.weekday()}", language)
    return text("when.format", language, weekday=weekday, time=clock)
