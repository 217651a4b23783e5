"""Issue 27's done-when, end to end for the advisor the shipped seed registers (sql/seed.sql).

A customer of Ana Gómez sees read ticks and "typing…", picks a project from the list the agent
offered, and, once the 24 h window has closed, Ana sends an approved template from her phone.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.cli import main
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio, Reply

ANA_NUMBER, ANA_PHONE = "+14155238886", "+573001000001"  # Ana Gómez, as sql/seed.sql registers her
CUSTOMER = "+573001112233"
PROJECTS = ["Torre Norte | 2 y 3 alcobas", "Parque Sur", "Villa Verde", "Mirador"]
VISIT = "HX" + "c" * 32


def _sales_model(messages: list[dict[str, Any]]) -> Reply:
    said = str(messages[-1].get("content") or "")
    if messages[-1]["role"] == "tool":
        return {"content": "Tenemos cuatro proyectos en venta."}
    if "Opción elegida" in said:
        return {"content": "¡Buena elección! Te cuento de Parque Sur."}
    return {
        "content": None,
        "tool_calls": [("offer_choices", {"question": "¿Cuál te interesa?", "options": PROJECTS})],
    }


def test_the_seeded_advisors_customer_gets_ticks_typing_and_a_list_and_the_advisor_a_template(
    client: TestClient,
    db: Db,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", db.url)
    assert main(["db", "seed"]) == 0
    templates = {"templates": [{"name": "visita", "content_sid": VISIT, "variables": ["nombre", "día"]}]}
    db.query(
        "UPDATE advisors SET settings = %s WHERE twilio_phone_number = %s",
        (json.dumps(templates), ANA_NUMBER),
    )
    fake_openai.behaviour = _sales_model

    asked = inbound_form(ANA_NUMBER, CUSTOMER, "Hola, ¿qué proyectos tienen?")
    assert signed_post(client, asked).status_code == 200
    [listed] = wait_for(lambda: fake_twilio.sent, what="the list")
    # Read ticks and "typing…" on the customer's message (the call runs beside the answer).
    typing = wait_for(lambda: fake_twilio.typing, what="the typing indicator")
    assert [call["messageId"] for call in typing] == [asked["MessageSid"]]
    [(content_sid, created)] = fake_twilio.contents
    items = [item["item"] for item in created["types"]["twilio/list-picker"]["items"]]
    assert items == ["Torre Norte", "Parque Sur", "Villa Verde", "Mirador"]
    assert listed.content_sid == content_sid and listed.from_ == f"whatsapp:{ANA_NUMBER}"
    assert listed.content_variables == {"1": "Tenemos cuatro proyectos en venta.\n\n¿Cuál te interesa?"}
    wait_for(lambda: db.query("SELECT 1 FROM messages WHERE twilio_sid = %s", (listed.sid,)), what="the SID")

    pick = inbound_form(
        ANA_NUMBER,
        CUSTOMER,
        "Parque Sur",
        MessageType="interactive",
        ListId="opcion_2",
        ListTitle="Parque Sur",
        OriginalRepliedMessageSid=listed.sid,
    )
    assert signed_post(client, pick).status_code == 200
    wait_for(lambda: len(fake_twilio.sent) == 2, what="the answer to the pick")
    assert fake_twilio.sent[1].body == "¡Buena elección! Te cuento de Parque Sur."
    read = str(fake_openai.requests[-1]["messages"][-1]["content"])
    assert "Opción elegida de la lista: «Parque Sur» (id: opcion_2) en respuesta a: «Tenemos cuatro" in read
    settle(db)

    db.query(
        "UPDATE chat_history SET last_inbound_at = now() - interval '30 hours' WHERE phone_number = %s",
        (CUSTOMER,),
    )
    command = inbound_form(ANA_NUMBER, ANA_PHONE, f"#plantilla {CUSTOMER} visita Valentina | sábado 10 am")
    answer = signed_post(client, command)
    assert answer.status_code == 200 and "plantilla «visita»" in answer.text
    template = wait_for(lambda: [m for m in fake_twilio.sent if m.content_sid == VISIT], what="the template")[
        0
    ]
    assert template.content_variables == {"1": "Valentina", "2": "sábado 10 am"}
    assert (template.from_, template.to) == (f"whatsapp:{ANA_NUMBER}", f"whatsapp:{CUSTOMER}")
