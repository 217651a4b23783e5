"""The agent offers choices in one tap: created once per shape through the Content API, sent by SID.

Through the real twilio client to the local double (content, messages); the customer's tap is the
shared list-reply shape, and the agent reads which option of which question was picked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio, Reply

ANA, CUSTOMER = "+14155238886", "+573001112233"
PROJECTS = ["Torre Norte | 2 y 3 alcobas", "Torre Sur", "Casa campestre", "Lote en Chía"]


def _offering(messages: list[dict[str, Any]]) -> Reply:
    """A careful model: offers the projects as a list, then introduces them in one line."""
    if messages[-1]["role"] == "tool":
        return {"content": "Estos son nuestros proyectos:"}
    if "Torre Sur" in str(messages[-1]["content"]):  # the customer picked one
        return {"content": "Elegiste: " + str(messages[-1]["content"])}
    return {
        "content": None,
        "tool_calls": [("offer_choices", {"question": "¿Cuál te interesa?", "options": PROJECTS})],
    }


def test_the_agent_offers_a_list_the_customer_picks_and_the_agent_reads_the_pick(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.add_advisor("Ana", ANA)
    fake_openai.behaviour = _offering
    with TestClient(create_app(make_settings())) as client:
        signed_post(client, inbound_form(ANA, CUSTOMER, "¿Qué proyectos tienen?"))
        # The reply and the list that closes it are one message (each one is billed).
        [listed] = wait_for(lambda: fake_twilio.sent, what="the list with the reply above it")
        settle(db)
        assert len(fake_twilio.sent) == 1
        [(content_sid, created)] = fake_twilio.contents
        picker = created["types"]["twilio/list-picker"]
        assert picker["body"] == "{{1}}" and len(picker["items"]) == 4  # the text comes with each send
        assert picker["items"][0] == {"item": "Torre Norte", "id": "opcion_1", "description": "2 y 3 alcobas"}
        assert listed.content_sid == content_sid
        assert listed.content_variables == {"1": "Estos son nuestros proyectos:\n\n¿Cuál te interesa?"}
        stored = db.query("SELECT body, payload FROM messages WHERE twilio_sid = %s", (listed.sid,))[0]
        assert stored["body"].startswith(
            "Estos son nuestros proyectos:\n\n¿Cuál te interesa?\n1. Torre Norte"
        )
        assert stored["payload"]["choices"]["lead"] == "Estos son nuestros proyectos:"

        # The customer taps "Torre Sur": Twilio's list reply names the list it answers.
        tap = inbound_form(
            ANA,
            CUSTOMER,
            "Torre Sur",
            MessageType="interactive",
            ListId="opcion_2",
            ListTitle="Torre Sur",
            OriginalRepliedMessageSid=listed.sid,
        )
        signed_post(client, tap)
        wait_for(lambda: len(fake_twilio.sent) == 2, what="the answer to the pick")
        assert "«Torre Sur» (id: opcion_2) en respuesta a: «Estos son nuestros proyectos:" in (
            fake_twilio.sent[1].body
        )

        # The same list offered again is not created again: its ContentSid is reused.
        signed_post(client, inbound_form(ANA, CUSTOMER, "¿Me recuerdas los proyectos?"))
        wait_for(lambda: len(fake_twilio.sent) == 3, what="the list again")
    assert len(fake_twilio.contents) == 1 and fake_twilio.sent[2].content_sid == content_sid


def test_choices_that_break_whatsapps_limits_are_refused_to_the_model_with_the_reason(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.add_advisor("Ana", ANA)

    def careless(messages: list[dict[str, Any]]) -> Reply:
        if messages[-1]["role"] == "tool":
            return {"content": "Respuesta tras: " + str(messages[-1]["content"])}
        options = ["Apartamento con terraza y vista al parque", "Casa"]
        return {
            "content": None,
            "tool_calls": [("offer_choices", {"question": "¿Cuál?", "options": options})],
        }

    fake_openai.behaviour = careless
    with TestClient(create_app(make_settings())) as client:
        signed_post(client, inbound_form(ANA, CUSTOMER, "Hola"))
        wait_for(lambda: fake_twilio.sent, what="the reply")
        settle(db)
    assert len(fake_twilio.sent) == 1 and fake_twilio.contents == []
    assert (
        "No se enviaron las opciones" in fake_twilio.sent[0].body
        and "24 caracteres" in fake_twilio.sent[0].body
    )
