"""Advisor commands over WhatsApp, relays into the AI's memory, auto-pause, opt-out and the 24 h window."""

from __future__ import annotations

import json
from collections.abc import Callable
from uuid import uuid4

import pytest
from starlette.testclient import TestClient

from advisors.models import Advisor, AdvisorSettings
from bot.app import create_app
from bot.settings import Settings
from bot.web.commands import Command, default_region, parse_command
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio, customer_said

ANA, BRUNO = "+14155238886", "+14155238887"
ANA_PHONE, BRUNO_PHONE = "+573005550001", "+573005550002"
CUSTOMER = "+573001112233"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#lista", Command("list")),
        ("#LISTA", Command("list")),
        ("#ia off +57 300 111 2233", Command("ai", phone=CUSTOMER, enabled=False)),
        ("#ia ON 3001112233", Command("ai", phone=CUSTOMER, enabled=True)),
        ("#audio on (300) 111-2233", Command("audio", phone=CUSTOMER, enabled=True)),
        ("#r +57 300 111 2233 Hola, te llamo ya", Command("relay", phone=CUSTOMER, text="Hola, te llamo ya")),
        (
            "#r 3001112233 2 habitaciones libres",
            Command("relay", phone=CUSTOMER, text="2 habitaciones libres"),
        ),
        ("#plantillas", Command("templates")),
        (
            "#plantilla 300 111 2233 visita Ana | sábado 10 am",
            Command("template", phone=CUSTOMER, text="visita", variables=("Ana", "sábado 10 am")),
        ),
        ("#t +573001112233 recordatorio", Command("template", phone=CUSTOMER, text="recordatorio")),
        (
            "#t +573001112233 cita Ana martes",
            Command("template", phone=CUSTOMER, text="cita", variables=("Ana", "martes")),
        ),
        ("#ayuda", Command("help")),
        ("hola", Command("help")),
        ("", Command("help")),
    ],
)
def test_parse_command(text: str, expected: Command) -> None:
    assert parse_command(text, region="CO") == expected


@pytest.mark.parametrize(
    "text",
    [
        "#ia maybe +573001112233",
        "#ia off",
        "#ia off hola",
        "#r +573001112233",
        "#r hola",
        "#t hola",
        "#plantilla",
    ],
)
def test_malformed_commands_explain_their_use(text: str) -> None:
    command = parse_command(text, region="CO")
    assert command.name == "help" and command.problem


def test_the_advisors_country_is_the_default_region() -> None:
    advisor = Advisor(
        id=uuid4(),
        name="Ana",
        phone_number=ANA_PHONE,
        twilio_phone_number=ANA,
        is_active=True,
        settings=AdvisorSettings(),
    )
    assert default_region(advisor) == "CO"


def _command(
    client: TestClient, text: str, *, sender: str = ANA_PHONE, to: str = ANA, sid: str | None = None
) -> str:
    response = signed_post(client, inbound_form(to, sender, text, sid=sid))
    assert response.status_code == 200, response.text
    return str(response.text)


def _customer(client: TestClient, text: str, *, to: str = ANA) -> None:
    assert signed_post(client, inbound_form(to, CUSTOMER, text)).status_code == 200


def test_an_advisor_runs_their_day_from_the_phone(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    ana = db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    _customer(client, "Hola, busco casa")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the AI's first reply")

    # Stop the AI, with the number typed the way people type it.
    reply = _command(client, "#ia off 300 111 2233")
    assert "<Message>" in reply and "ya no responde" in reply
    conversation = db.conversation(ana, CUSTOMER)
    assert conversation is not None
    assert (conversation["ai_attention"], conversation["ai_attention_changed_by"]) == (False, "advisor")
    _customer(client, "¿Me llamas?")
    settle(db)
    assert len(fake_twilio.bodies_to(CUSTOMER)) == 1

    # See who is waiting, and answer by hand: it leaves from Ana's Twilio number.
    assert CUSTOMER in _command(client, "#lista")
    assert "Enviando a +573001112233" in _command(client, "#r +57 300 111 2233 Soy Ana, te llamo en 5 min")
    wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 2, what="the relayed message")
    relayed = fake_twilio.sent[-1]
    assert (relayed.body, relayed.from_) == ("Soy Ana, te llamo en 5 min", f"whatsapp:{ANA}")
    settle(db)
    row = db.query(
        "SELECT author, status FROM messages WHERE direction = 'outbound' ORDER BY id DESC LIMIT 1"
    )[0]
    assert row == {"author": "advisor", "status": "queued"}

    # Hand back: the AI answers again and knows what Ana promised.
    assert "vuelve a atender" in _command(client, "#ia on 3001112233")
    _customer(client, "Gracias")
    wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 3, what="the AI's reply after hand-back")
    history = fake_openai.requests[-1]["messages"]
    said = [
        m for m in history if m["role"] == "assistant" and m.get("content") == "Soy Ana, te llamo en 5 min"
    ]
    assert said and said[0].get("name") == "advisor"
    assert customer_said(fake_openai.requests[-1]) == ["Hola, busco casa", "¿Me llamas?", "Gracias"]
    # Commands never became customer messages.
    assert db.query("SELECT count(*) AS n FROM chat_history")[0]["n"] == 1
    assert db.count("advisor_channel WHERE direction = 'inbound'") == 4


def test_commands_act_only_on_the_senders_own_conversations(
    client: TestClient, db: Db, fake_twilio: FakeTwilio
) -> None:
    ana = db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    bruno = db.add_advisor("Bruno", BRUNO, phone=BRUNO_PHONE)
    _customer(client, "Hola Bruno", to=BRUNO)
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER))
    # Ana has no conversation with this customer: her command changes nothing of Bruno's.
    assert "No tienes ninguna conversación" in _command(client, "#ia off +573001112233")
    assert "No tienes ninguna conversación" in _command(client, "#r +573001112233 hola de Ana")
    assert db.conversation(bruno, CUSTOMER)["ai_attention"] is True  # type: ignore[index]
    # The same text from Bruno's personal phone to Ana's number is a customer message for Ana.
    text = _command(client, "#ia off +573001112233", sender=BRUNO_PHONE, to=ANA)
    assert "<Message>" not in text
    stored = db.query(
        "SELECT advisor_id::text AS a, body FROM messages WHERE direction = 'inbound' AND body LIKE '#%%'"
    )
    assert stored == [{"a": ana, "body": "#ia off +573001112233"}]
    assert db.conversation(bruno, CUSTOMER)["ai_attention"] is True  # type: ignore[index]
    assert db.count("advisor_channel") == 2


def test_a_retried_command_is_run_once_and_answered_the_same(
    client: TestClient, db: Db, fake_twilio: FakeTwilio
) -> None:
    db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    _customer(client, "Hola")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER))
    first = _command(client, "#r 3001112233 Te escribo yo", sid="SM" + "c" * 32)
    again = _command(client, "#r 3001112233 Te escribo yo", sid="SM" + "c" * 32)
    assert first == again and "Enviando" in first
    settle(db)
    assert fake_twilio.bodies_to(CUSTOMER).count("Te escribo yo") == 1


def test_help_for_anything_unrecognised(client: TestClient, db: Db) -> None:
    db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    for text in ("hola", "#ayuda", "#borrar todo"):
        assert "#lista" in _command(client, text)
    assert "Uso: #ia on|off" in _command(client, "#ia quizá 3001112233")


def test_relay_outside_the_24_hour_window_is_refused(
    client: TestClient, db: Db, fake_twilio: FakeTwilio
) -> None:
    ana = db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    _customer(client, "Hola")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER))
    settle(db)
    db.query(
        "UPDATE chat_history SET last_inbound_at = now() - interval '25 hours' WHERE advisor_id = %s", (ana,)
    )
    reply = _command(client, "#r 3001112233 ¿Sigues interesado?")
    assert "No enviado" in reply and "24 h" in reply and "plantilla" in reply
    settle(db)
    assert db.count("messages WHERE author = 'advisor'") == 0
    assert len(fake_twilio.bodies_to(CUSTOMER)) == 1


def test_a_customer_who_opts_out_gets_nothing_until_they_opt_back_in(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    ana = db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    _customer(client, "Hola")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER))
    _customer(client, "BAJA")
    settle(db)
    conversation = db.conversation(ana, CUSTOMER)
    assert conversation is not None and conversation["opted_out"] is True
    assert conversation["opted_out_at"] is not None
    assert "palabra de baja" in _command(client, "#r 3001112233 ¿Seguro?")
    _customer(client, "una pregunta más")
    settle(db)
    assert len(fake_twilio.bodies_to(CUSTOMER)) == 1
    assert db.query("SELECT status FROM messages WHERE body = 'una pregunta más'")[0]["status"] == "opted_out"
    _customer(client, "alta")
    wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 2, what="a reply after opting back in")
    assert db.conversation(ana, CUSTOMER)["opted_out"] is False  # type: ignore[index]


def test_manual_reply_pauses_the_ai_and_schedules_the_hand_back(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio
) -> None:
    ana = db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    with TestClient(create_app(make_settings(ai_resume_after_minutes=30))) as client:
        _customer(client, "Hola")
        wait_for(lambda: fake_twilio.bodies_to(CUSTOMER))
        _command(client, "#r 3001112233 Hola, soy Ana")
        wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 2)
        conversation = db.conversation(ana, CUSTOMER)
        assert conversation is not None and conversation["ai_attention"] is False
        resume = db.query(
            "SELECT scheduled_at - now() AS delay FROM procrastinate_jobs WHERE task_name = 'resume_ai'"
        )
        assert len(resume) == 1 and 29 * 60 < resume[0]["delay"].total_seconds() <= 30 * 60
        # The hand-back job runs when it is due: make it due now, before the advisor went quiet.
        due_now = "UPDATE procrastinate_jobs SET scheduled_at = now() WHERE task_name = 'resume_ai'"
        db.query(due_now)
        wait_for(
            lambda: not db.query("SELECT 1 FROM procrastinate_jobs WHERE task_name = 'resume_ai'"),
            what="the hand-back job to run",
        )
        assert db.conversation(ana, CUSTOMER)["ai_attention"] is False  # type: ignore[index]
        # Once the advisor has been quiet for longer than the pause, the same job hands back.
        _command(client, "#r 3001112233 Sigo por aquí")  # schedules a second hand-back job
        wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 3)
        db.query("UPDATE chat_history SET last_advisor_message_at = now() - interval '31 minutes'")
        db.query(due_now)
        wait_for(
            lambda: db.conversation(ana, CUSTOMER)["ai_attention"],  # type: ignore[index]
            what="the AI to be handed back",
        )
    conversation = db.conversation(ana, CUSTOMER)
    assert conversation is not None
    assert (conversation["ai_attention"], conversation["ai_attention_changed_by"]) == (True, "auto_resume")


def test_seed_004s_advisor_commands_from_a_number_its_countrys_plan_does_not_know(
    client: TestClient, db: Db, fake_twilio: FakeTwilio
) -> None:
    """Found by the audit: seed 004's personal number '+57301234567' was 'not a phone number'."""
    db.add_advisor("Ana", ANA, phone="+57301234567")
    _customer(client, "Hola, busco casa")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the AI's reply")
    assert "ya no responde" in _command(client, f"#ia off {CUSTOMER}", sender="+57301234567")
    listed = _command(client, "#lista", sender="+57301234567")
    assert "<Message>" in listed and CUSTOMER in listed
    # A customer of such a number writes (the webhook takes it), and is answered from the phone.
    assert signed_post(client, inbound_form(ANA, "+57311234567", "hola")).status_code == 200
    wait_for(lambda: fake_twilio.bodies_to("+57311234567"), what="the AI's reply to the short number")
    reply = _command(client, "#r +57311234567 Soy Ana", sender="+57301234567")
    assert "Enviando a +57311234567" in reply


TEMPLATES = json.dumps(
    {
        "templates": [
            {"name": "visita", "content_sid": "HX" + "a" * 32, "variables": ["nombre", "día"]},
            {"name": "recordatorio", "content_sid": "HX" + "b" * 32},
        ]
    }
)


def test_an_advisor_sends_an_approved_template_from_the_phone_when_the_window_is_closed(
    client: TestClient, db: Db, fake_twilio: FakeTwilio
) -> None:
    ana = db.add_advisor("Ana", ANA, phone=ANA_PHONE, settings=TEMPLATES)
    _customer(client, "Hola, busco casa")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the AI's reply")
    settle(db)
    db.query(
        "UPDATE chat_history SET last_inbound_at = now() - interval '2 days' WHERE advisor_id = %s", (ana,)
    )
    refused = _command(client, f"#r {CUSTOMER} ¿Seguimos?")
    assert "No enviado" in refused and f"#plantilla {CUSTOMER}" in refused  # names the way out
    listed = _command(client, "#plantillas")
    assert "visita (nombre, día)" in listed and "recordatorio" in listed
    assert "Las tuyas: visita, recordatorio" in _command(client, f"#t {CUSTOMER} saludo")
    assert "lleva 2 variable(s)" in _command(client, f"#t {CUSTOMER} visita Ana")
    sent = _command(client, f"#plantilla {CUSTOMER} Visita Ana | sábado 10 am")
    assert "plantilla «visita»" in sent
    wait_for(lambda: any(m.content_sid for m in fake_twilio.sent), what="the template's send")
    template = next(m for m in fake_twilio.sent if m.content_sid)
    assert (template.content_sid, template.content_variables) == (
        "HX" + "a" * 32,
        {"1": "Ana", "2": "sábado 10 am"},
    )
    assert template.to == f"whatsapp:{CUSTOMER}" and template.from_ == f"whatsapp:{ANA}"
