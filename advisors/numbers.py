"""Owns phone number normalisation: every number the server compares is E.164."""

from __future__ import annotations

import functools

import phonenumbers

WHATSAPP_PREFIX = "whatsapp:"
# WhatsApp's own ids for a person: "573001112233@s.whatsapp.net" (and the older "@c.us").
_PERSON_CHAT_SUFFIXES = ("@s.whatsapp.net", "@c.us")


class InvalidNumberError(ValueError):
    """A value that cannot be read as a phone number."""


# The same few thousand customers and advisors write again and again; parsing a number is ~10 µs.
@functools.lru_cache(maxsize=8192)
def normalize_whatsapp_address(address: str, *, default_region: str | None = None) -> str:
    """Return the E.164 form of a Twilio address such as `whatsapp:+573001112233`.

    WhatsApp chat ids of a person (`573001112233@s.whatsapp.net`, `…@c.us`) read as their number;
    a group's (`…@g.us`) is refused.

    Raises:
        InvalidNumberError: when the value is not a plausible phone number.
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
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidNumberError(f"not a phone number: {address[:40]!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def whatsapp_address(e164: str) -> str:
    """Return the Twilio WhatsApp address of an E.164 number."""
    return f"{WHATSAPP_PREFIX}{e164}"


def mask_phone(number: str) -> str:
    """Return a number with all but its country prefix and last four digits hidden, for logs."""
    digits = number.removeprefix(WHATSAPP_PREFIX)
    if len(digits) <= 6:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
