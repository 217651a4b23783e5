from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from bot.settings import Settings
from bot.twilio.sender import WHATSAPP_BODY_LIMIT, TwilioSender, is_transient_status, split_reply
from tests.fakes import FakeTwilio


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Hola.", 1600, ["Hola."]),
        ("", 1600, []),
        ("Uno. Dos. Tres.", 10, ["Uno. Dos.", "Tres."]),
        ("palabra palabra palabra", 16, ["palabra palabra", "palabra"]),
        ("x" * 25, 10, ["x" * 10, "x" * 10, "x" * 5]),
        ("Línea uno\nLínea dos que es larga", 12, ["Línea uno", "Línea dos", "que es larga"]),
        ("¿Sí? ¡Claro! Vale…", 7, ["¿Sí?", "¡Claro!", "Vale…"]),
        # A paragraph break that fits wins over a later sentence end: whole paragraphs per message.
        ("Primero uno. Dos.\n\nTres. Cuatro. Cinco.", 30, ["Primero uno. Dos.", "Tres. Cuatro. Cinco."]),
        # … unless it would leave a part of less than a third of the limit.
        ("Sí.\n\nTres cuatro. Cinco seis siete.", 30, ["Sí.\n\nTres cuatro.", "Cinco seis siete."]),
    ],
)
def test_split_reply(text: str, limit: int, expected: list[str]) -> None:
    assert split_reply(text, limit) == expected


def test_split_reply_of_3000_characters_gives_two_whole_sentence_parts() -> None:
    text = ("Tenemos apartamentos de dos y tres habitaciones en el norte. " * 50).strip()
    parts = split_reply(text)
    assert len(parts) == 2
    assert all(len(part) <= WHATSAPP_BODY_LIMIT for part in parts)
    assert parts[0].endswith(".") and parts[1].startswith("Tenemos")
    assert " ".join(parts) == text


def test_split_reply_refuses_a_non_positive_limit() -> None:
    with pytest.raises(ValueError):
        split_reply("hola", 0)


@pytest.mark.parametrize(
    ("status", "transient"), [(None, True), (429, True), (500, True), (503, True), (400, False), (404, False)]
)
def test_is_transient_status(status: int | None, transient: bool) -> None:
    assert is_transient_status(status) is transient


async def test_twilios_request_log_is_written_when_asked_for_and_never_holds_the_credentials(
    make_settings: Callable[..., Settings], fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    """The client skips formatting its log when nobody reads it (bot.twilio.sender._TwilioHttpClient)."""
    sender = TwilioSender(make_settings())
    try:
        with caplog.at_level(logging.WARNING, logger="twilio.async_http_client"):
            await sender.send(from_number="+14155238886", to_number="+573001112233", body="uno")
        assert [r for r in caplog.records if r.name == "twilio.async_http_client"] == []
        with caplog.at_level(logging.INFO, logger="twilio.async_http_client"):
            await sender.send(from_number="+14155238886", to_number="+573001112233", body="dos")
    finally:
        await sender.aclose()
    lines = [r.getMessage() for r in caplog.records if r.name == "twilio.async_http_client"]
    assert "-- BEGIN Twilio API Request --" in lines
    assert any(line.startswith("Response Status Code: 201") for line in lines)
    assert not any("authorization" in line.lower() or "Basic " in line for line in lines)
    assert fake_twilio.bodies_to("+573001112233") == ["uno", "dos"]
