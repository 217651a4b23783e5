"""Owns phone number normalisation: every number the server compares is E.164."""

from __future__ import annotations

import functools
import logging
import re

import phonenumbers

logger = logging.getLogger(__name__)

WHATSAPP_PREFIX = "whatsapp:"
# WhatsApp's own ids for a person: "573001112233@s.whatsapp.net" (and the older "@c.us").
_PERSON_CHAT_SUFFIXES = ("@s.whatsapp.net", "@c.us")
# What E.164 allows: a country code and up to 15 digits in all.
_E164_SHAPE = re.compile(r"\+[1-9][0-9]{6,14}")


class InvalidNumberError(ValueError):
    """A value that cannot be read as a phone number."""


# The same few thousand customers and advisors write again and again; parsing a number is ~10 µs.
@functools.lru_cache(maxsize=8192)
def normalize_whatsapp_address(address: str, *, default_region: str | None = None) -> str:
    """Return the E.164 form of a Twilio address such as `whatsapp:+573001112233`.

    WhatsApp chat ids of a person (`573001112233@s.whatsapp.net`, `…@c.us`) read as their number;
    a group's (`…@g.us`) is refused.

    A number whose length its country's plan does not allow but that is E.164-shaped is taken
    as written, with a warning.

    Raises:
        InvalidNumberError: when the value cannot be a phone number at all.
    """
    raw = address.strip()
    if raw.lower().startswith(WHATSAPP_PREFIX):
        raw = raw[len(WHATSAPP_PREFIX) :]
    raw = raw.strip()
    if "@" in raw:
        suffix = raw[raw.index("@") :].lower()
        if suffix not in _PERSON_CHAT_SUFFIXES:
            raise InvalidNumberError(f"not a person's WhatsApp id: {address[:40]!r}")
        raw = raw[: raw.index("@")]
    if not raw or len(raw) > 32:
        raise InvalidNumberError(f"not a phone number: {address[:40]!r}")
    if not raw.startswith("+") and default_region is None:
        raw = "+" + raw
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidNumberError(f"not a phone number: {address[:40]!r}") from error
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_possible_number(parsed):
        # Twilio, not our copy of the numbering plans, is the authority on what it can deliver:
        # an E.164-shaped number unknown to its country's plan (seed 004's '+57301234567') is
        # taken as written, and said once.
        if not _E164_SHAPE.fullmatch(e164):
            raise InvalidNumberError(f"not a phone number: {address[:40]!r}")
        logger.warning(
            "phone number not valid for its country's numbering plan; used as written",
            extra={"number": mask_phone(e164)},
        )
    return e164


def whatsapp_address(e164: str) -> str:
    """Return the Twilio WhatsApp address of an E.164 number."""
    return f"{WHATSAPP_PREFIX}{e164}"


def mask_phone(number: str) -> str:
    """Return a number with all but its country prefix and last four digits hidden, for logs."""
    digits = number.removeprefix(WHATSAPP_PREFIX)
    if len(digits) <= 6:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
