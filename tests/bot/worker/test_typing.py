"""Presence: blue ticks and "typing…" on the customer's newest message while the AI writes.

Through the real twilio client to the local double, which serves the typing-indicator API on
the same origin as the messages API (TWILIO_API_BASE_URL keeps each API's own path).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio

ANA, CUSTOMER = "+14155238886", "+573001112233"


def test_the_ai_shows_typing_on_the_newest_message_while_it_writes(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.add_advisor("Ana", ANA)
    fake_openai.latency = 1.0  # the model thinks; the customer should see it
    with TestClient(create_app(make_settings())) as client:
        sid = "SM" + "1" * 32
        assert signed_post(client, inbound_form(ANA, CUSTOMER, "Hola", sid=sid)).status_code == 200
        wait_for(lambda: fake_twilio.typing, what="the typing indicator")
        assert fake_twilio.sent == []  # before the reply, not with it
        wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the reply")
    assert [(call["messageId"], call["channel"]) for call in fake_twilio.typing] == [(sid, "whatsapp")]
    assert fake_twilio.typing[0]["authorization"].startswith("Basic ")  # the account's credentials


def test_no_typing_when_the_advisor_owns_the_conversation_or_for_a_draft_or_when_switched_off(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio
) -> None:
    ana = db.add_advisor("Ana", ANA)
    db.add_advisor("Bea", "+14155238887", settings=json.dumps({"ai_mode": "draft"}))
    with TestClient(create_app(make_settings())) as client:
        signed_post(client, inbound_form(ANA, CUSTOMER, "Hola"))
        wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the first reply")
        settle(db)
        fake_twilio.typing.clear()
        db.query("UPDATE chat_history SET ai_attention = false WHERE advisor_id = %s", (ana,))
        signed_post(client, inbound_form(ANA, CUSTOMER, "¿Hay alguien?"))  # the advisor took over
        signed_post(client, inbound_form("+14155238887", CUSTOMER, "Hola Bea"))  # a draft, not sent
        settle(db)
        assert db.query("SELECT count(*) AS n FROM drafts")[0]["n"] == 1
    with TestClient(create_app(make_settings(typing_indicator=False))) as client:
        db.query("UPDATE chat_history SET ai_attention = true WHERE advisor_id = %s", (ana,))
        signed_post(client, inbound_form(ANA, CUSTOMER, "¿Y ahora?"))
        wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 2, what="the reply without typing")
    assert fake_twilio.typing == []


def test_a_failing_typing_indicator_never_stops_the_reply(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio
) -> None:
    db.add_advisor("Ana", ANA)
    fake_twilio.typing_failures = [500]
    with TestClient(create_app(make_settings())) as client:
        signed_post(client, inbound_form(ANA, CUSTOMER, "Hola"))
        wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the reply")
    assert len(fake_twilio.typing) == 1 and fake_twilio.typing_failures == []
