"""The same customer writing to two advisors has two conversations, memories and sets of flags."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from memory.ai.thread import thread_id_for
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio, Reply, customer_said, echo_model, moment_note_of

ANA_NUMBER = "+14155238886"
BRUNO_NUMBER = "+14155238887"
CUSTOMER = "+573001112233"
ANA_PERSONAL, BRUNO_PERSONAL = "+573005550001", "+573005550002"


def _from_number(fake: FakeTwilio, advisor_number: str) -> list[str]:
    return [m.body for m in fake.sent if m.from_ == f"whatsapp:{advisor_number}"]


def test_same_customer_with_two_advisors_is_two_separate_conversations(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    def model(messages: list[dict[str, Any]]) -> Reply:
        if messages[-1]["role"] == "tool":
            return {"content": "Te paso con una persona."}
        if "persona" in str(messages[-1]["content"]):
            return {
                "tool_calls": [
                    ("hand_over_to_advisor", {"reason": "quiere una persona", "category": "customer_request"})
                ]
            }
        if "audio" in str(messages[-1]["content"]):
            return {"tool_calls": [("set_audio_preference", {"enabled": True})]}
        return echo_model(messages)

    fake_openai.behaviour = model
    ana = db.add_advisor("Ana", ANA_NUMBER, phone=ANA_PERSONAL)
    bruno = db.add_advisor("Bruno", BRUNO_NUMBER, phone=BRUNO_PERSONAL)
    db.advisor_wrote_today(ana)  # their notices may go as free text
    db.advisor_wrote_today(bruno)

    for to, text in ((ANA_NUMBER, "Para Ana: casa en Chía"), (BRUNO_NUMBER, "Para Bruno: local")):
        assert signed_post(client, inbound_form(to, CUSTOMER, text)).status_code == 200
    wait_for(lambda: len(fake_twilio.sent) == 2, what="both replies")
    settle(db)

    # Two conversations, each message stored under its own advisor.
    conversations = db.query("SELECT advisor_id::text AS a, conversation_id FROM chat_history ORDER BY a")
    assert len({c["conversation_id"] for c in conversations}) == 2
    by_advisor = {
        row["a"]: row["bodies"]
        for row in db.query(
            "SELECT advisor_id::text AS a, array_agg(body ORDER BY id) AS bodies FROM messages "
            "WHERE direction = 'inbound' GROUP BY advisor_id"
        )
    }
    assert by_advisor == {ana: ["Para Ana: casa en Chía"], bruno: ["Para Bruno: local"]}

    # Each reply left from its own advisor's number and answered only its own conversation.
    assert _from_number(fake_twilio, ANA_NUMBER) == ["Respuesta a: Para Ana: casa en Chía"]
    assert _from_number(fake_twilio, BRUNO_NUMBER) == ["Respuesta a: Para Bruno: local"]

    # Two AI memories, under the documented thread ids.
    threads = {row["thread_id"] for row in db.query("SELECT DISTINCT thread_id FROM checkpoints")}
    assert threads == {thread_id_for(ana, CUSTOMER), thread_id_for(bruno, CUSTOMER)}

    # Each model call saw only its own advisor's prompt and history.
    signed_post(client, inbound_form(BRUNO_NUMBER, CUSTOMER, "¿Y el precio?"))
    wait_for(lambda: len(_from_number(fake_twilio, BRUNO_NUMBER)) == 2)
    last = fake_openai.requests[-1]["messages"]
    assert "Bruno" in last[0]["content"] and "Ana" not in last[0]["content"]
    assert customer_said(fake_openai.requests[-1]) == ["Para Bruno: local", "¿Y el precio?"]
    assert "Ana" not in moment_note_of(fake_openai.requests[-1])

    # Flags: a handover and an audio preference with Ana change nothing with Bruno.
    signed_post(client, inbound_form(ANA_NUMBER, CUSTOMER, "quiero una persona"))
    signed_post(client, inbound_form(BRUNO_NUMBER, CUSTOMER, "mándame audio"))
    wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 5, what="handover and audio replies")
    # The handover notice went to Ana's personal phone, from Ana's number; Bruno heard nothing.
    notice = wait_for(lambda: fake_twilio.bodies_to(ANA_PERSONAL), what="Ana's handover notice")
    assert CUSTOMER in notice[0] and "quiere una persona" in notice[0]
    assert [m.from_ for m in fake_twilio.sent if m.to == f"whatsapp:{ANA_PERSONAL}"] == [
        f"whatsapp:{ANA_NUMBER}"
    ]
    assert fake_twilio.bodies_to(BRUNO_PERSONAL) == []
    settle(db)
    ana_conv, bruno_conv = db.conversation(ana, CUSTOMER), db.conversation(bruno, CUSTOMER)
    assert ana_conv is not None and bruno_conv is not None
    assert (ana_conv["ai_attention"], ana_conv["audio_available"]) == (False, False)
    assert (bruno_conv["ai_attention"], bruno_conv["audio_available"]) == (True, True)

    # Ana's customer now waits for a human; Bruno's AI still answers the same phone.
    sent_before = len(fake_twilio.bodies_to(CUSTOMER))
    signed_post(client, inbound_form(ANA_NUMBER, CUSTOMER, "¿hola?"))
    signed_post(client, inbound_form(BRUNO_NUMBER, CUSTOMER, "gracias"))
    wait_for(lambda: len(_from_number(fake_twilio, BRUNO_NUMBER)) == 4)
    settle(db)
    assert len(fake_twilio.bodies_to(CUSTOMER)) == sent_before + 1
    assert _from_number(fake_twilio, BRUNO_NUMBER)[-1] == "Respuesta a: gracias"


def test_database_refuses_a_message_that_mixes_advisors(db: Db) -> None:
    import psycopg
    import pytest

    ana = db.add_advisor("Ana", ANA_NUMBER)
    bruno = db.add_advisor("Bruno", BRUNO_NUMBER)
    conversation = db.query(
        "INSERT INTO chat_history (advisor_id, phone_number) VALUES (%s, %s) RETURNING conversation_id",
        (ana, CUSTOMER),
    )[0]["conversation_id"]
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        db.query(
            "INSERT INTO messages (advisor_id, conversation_id, direction, author, status) "
            "VALUES (%s, %s, 'inbound', 'customer', 'received')",
            (bruno, conversation),
        )
