"""Owns what the admin reads when an advisor's form is refused: each field's error, beside it.

In the page's language, with what was typed kept.

The numbers are checked by the database (sql/0005, the `advisors` trigger: one rule for the
console, the CLI and the SQL seed); its messages name the field in English. Here they become
the page's words, on the field they are about.
"""

from __future__ import annotations

import re

import psycopg

from advisors.texts import Language, text

FIELDS = ("name", "twilio_phone_number", "phone_number")
_FIELD = re.compile(r'^advisor ".*": (twilio_phone_number|phone_number)\b')
_OTHER = re.compile(r'advisor "(?P<other>[^"]*)"$')


def missing_name(language: Language) -> dict[str, str]:
    """The error of a form sent without a name."""
    return {"name": text("advisor_form.name_required", language)}


def field_errors(error: psycopg.Error, language: Language) -> dict[str, str]:
    """Which field the database refused and why, as the admin should read it (field -> text)."""
    said = error.diag.message_primary or ""
    if isinstance(error, psycopg.errors.UniqueViolation) and error.diag.constraint_name:
        return {"twilio_phone_number": text("advisor_form.twilio_taken", language)}
    if " are both " in said:
        return {"phone_number": text("advisor_form.same_numbers", language)}
    found = _FIELD.match(said)
    if found is None:  # not one of the trigger's: shown as the database said it
        return {"": said or type(error).__name__}
    field = found.group(1)
    other = _OTHER.search(said)
    if "is the personal phone of" in said and other:
        return {field: text("advisor_form.is_personal_phone", language).format(other=other["other"])}
    if "is the Twilio number of" in said and other:
        return {field: text("advisor_form.is_twilio_number", language).format(other=other["other"])}
    if "has no country code" in said:
        return {field: text("advisor_form.no_country_code", language)}
    return {field: text("advisor_form.not_a_number", language)}
