from __future__ import annotations

import pytest

from advisors.numbers import InvalidNumberError, mask_phone, normalize_whatsapp_address


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("whatsapp:+14155238886", "+14155238886"),
        ("WhatsApp:+573001112233", "+573001112233"),
        ("+57 300 111 2233", "+573001112233"),
        ("  whatsapp: +44 20 7946 0958 ", "+442079460958"),
        ("573001112233", "+573001112233"),
        ("573001112233@s.whatsapp.net", "+573001112233"),
        ("573001112233@c.us", "+573001112233"),
        # Seed 004's advisor: too short for Colombia's plan, E.164-shaped: taken as written.
        ("whatsapp:+57301234567", "+57301234567"),
    ],
)
def test_normalize_whatsapp_address(raw: str, expected: str) -> None:
    assert normalize_whatsapp_address(raw) == expected


def test_default_region_reads_national_numbers() -> None:
    assert normalize_whatsapp_address("300 111 2233", default_region="CO") == "+573001112233"


INVALID = ["", "whatsapp:", "hello", "+1", "+" + "9" * 40, "whatsapp:+12"]
INVALID += ["120363025@g.us", "@s.whatsapp.net"]  # a group chat; a chat id without a number


@pytest.mark.parametrize("raw", INVALID)
def test_invalid_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidNumberError):
        normalize_whatsapp_address(raw)


@pytest.mark.parametrize(
    ("number", "masked"),
    [("+573001112233", "+57******2233"), ("whatsapp:+14155238886", "+14*****8886"), ("+1234", "*****")],
)
def test_mask_phone(number: str, masked: str) -> None:
    assert mask_phone(number) == masked
