"""The worker path end to end: webhook → queue → agent (fake OpenAI) → Twilio (fake)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.testclient import TestClient

from advisors.texts import guess_language
from bot.agent.model import memory_budget_for
from bot.agent.rulebook import RULEBOOK
from bot.app import create_app
from bot.settings import Settings
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio, Reply, customer_said, echo_model, moment_note_of, prompt_roles

ADVISOR_NUMBER = "+14155238886"
CUSTOMER = "+573001112233"


def _post(client: TestClient, body: str, *, to: str = ADVISOR_NUMBER, customer: str = CUSTOMER) -> None:
    response = signed_post(client, inbound_form(to, customer, body))
    assert response.status_code == 200, response.text


def test_ai_attention_off_means_no_reply_but_message_kept(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    advisor_id = db.add_advisor("Ana", ADVISOR_NUMBER)
    _post(client, "Hola")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER))
    db.query(
        "UPDATE chat_history SET ai_attention = false WHERE advisor_id = %s AND phone_number = %s",
        (advisor_id, CUSTOMER),
    )
    calls_before = len(fake_openai.requests)
    _post(client, "¿Sigues ahí?")
    settle(db)
    rows = db.query("SELECT body, status, processed_at FROM messages WHERE direction = 'inbound' ORDER BY id")
    assert rows[1]["body"] == "¿Sigues ahí?"
    assert rows[1]["status"] == "held_for_advisor"
    assert fake_twilio.bodies_to(CUSTOMER) == ["Respuesta a: Hola"]
    assert len(fake_openai.requests) == calls_before
    # When the AI is back, it remembers what the customer said while it was off.
    db.query("UPDATE chat_history SET ai_attention = true WHERE advisor_id = %s", (advisor_id,))
    _post(client, "Ya volví")
    wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 2)
    assert customer_said(fake_openai.requests[-1]) == ["Hola", "¿Sigues ahí?", "Ya volví"]


def test_a_burst_of_three_messages_gets_one_reply_with_all_in_context(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    with TestClient(create_app(make_settings(debounce_seconds=1.0))) as client:
        for text in ("Hola", "quiero el apartamento", "de 2 habitaciones"):
            _post(client, text)
        wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the reply")
        settle(db)
    assert fake_twilio.bodies_to(CUSTOMER) == [
        "Respuesta a: Hola | quiero el apartamento | de 2 habitaciones"
    ]
    assert len(fake_openai.requests) == 1
    statuses = db.query("SELECT status FROM messages WHERE direction = 'inbound'")
    assert {row["status"] for row in statuses} == {"answered"}


def test_order_is_kept_within_a_conversation_under_concurrency(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    """Ten customers write at once, each waiting for the previous reply: replies stay in order."""
    db.add_advisor("Ana", ADVISOR_NUMBER)
    customers = [f"+5730011100{i:02d}" for i in range(10)]
    fake_openai.latency = 0.2
    with TestClient(create_app(make_settings(worker_concurrency=8))) as client:

        def converse(customer: str) -> None:
            for turn in range(3):
                _post(client, f"{customer} turno {turn}", customer=customer)
                wait_for(lambda turn=turn: len(fake_twilio.bodies_to(customer)) > turn, timeout=30)

        threads = [threading.Thread(target=converse, args=(c,)) for c in customers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    for customer in customers:
        assert fake_twilio.bodies_to(customer) == [
            f"Respuesta a: {customer} turno {turn}" for turn in range(3)
        ]
    # Different conversations were answered side by side, not one after another.
    assert fake_openai.max_in_flight >= 2
    assert {request["model"] for request in fake_openai.requests} == {"fake-model"}


def test_a_newer_message_while_the_model_thinks_drops_the_stale_reply(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    fake_openai.latency = 0.3
    _post(client, "primero")
    wait_for(lambda: fake_openai.requests, what="the first model call")
    _post(client, "segundo")
    _post(client, "tercero")
    settle(db)
    # The answer to "primero" alone is stale once newer messages exist: one reply covers all,
    # in the order the customer wrote them.
    assert fake_twilio.bodies_to(CUSTOMER) == ["Respuesta a: primero | segundo | tercero"]
    assert len(fake_openai.requests) == 2
    assert prompt_roles(fake_openai.requests[-1]) == ["system", "note", "user", "user", "user"]


def test_a_3000_character_answer_arrives_as_two_messages(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    sentence = "Este apartamento tiene dos habitaciones y una vista preciosa. "
    long_text = (sentence * 60)[:3000].rstrip()
    fake_openai.behaviour = lambda messages: {"content": long_text}
    db.add_advisor("Ana", ADVISOR_NUMBER)
    _post(client, "Cuéntame todo")
    wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 2, what="two parts")
    parts = fake_twilio.bodies_to(CUSTOMER)
    assert all(len(part) <= 1600 for part in parts)
    assert parts[0].endswith(".")
    assert " ".join(parts) == long_text
    settle(db)
    assert [row["part"] for row in db.outbound()] == [1, 2]


def test_twilio_500_is_retried_and_then_succeeds(client: TestClient, db: Db, fake_twilio: FakeTwilio) -> None:
    fake_twilio.failures = [(500, 20500), (503, 20503)]
    db.add_advisor("Ana", ADVISOR_NUMBER)
    _post(client, "Hola")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the retried reply")
    settle(db)
    assert fake_twilio.attempts == 3
    assert fake_twilio.bodies_to(CUSTOMER) == ["Respuesta a: Hola"]
    assert [row["status"] for row in db.outbound()] == ["queued"]


def test_twilio_permanent_error_is_stored_and_not_retried(
    client: TestClient, db: Db, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.fail_always = (400, 21211)
    db.add_advisor("Ana", ADVISOR_NUMBER)
    _post(client, "Hola")
    wait_for(lambda: [r for r in db.outbound() if r["status"] == "failed"], what="the failure")
    settle(db)
    row = db.outbound()[0]
    assert row["error_code"] == "21211"
    assert "400" in row["error_message"]
    assert fake_twilio.attempts == 1


def test_twilio_down_for_good_gives_up_after_bounded_attempts(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.fail_always = (500, 20500)
    db.add_advisor("Ana", ADVISOR_NUMBER)
    with TestClient(create_app(make_settings(job_max_attempts=3))) as client:
        _post(client, "Hola")
        wait_for(lambda: [r for r in db.outbound() if r["status"] == "failed"], what="giving up")
        settle(db)
    assert fake_twilio.attempts == 3
    assert "gave up after 3 attempts" in db.outbound()[0]["error_message"]
    failed_jobs = db.query("SELECT status FROM procrastinate_jobs WHERE task_name = 'answer_conversation'")
    assert [job["status"] for job in failed_jobs] == ["failed"]


def test_model_outage_is_retried(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    fake_openai.failures = [500, 429]
    db.add_advisor("Ana", ADVISOR_NUMBER)
    _post(client, "Hola")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the reply after model retries")
    assert len(fake_openai.requests) == 3
    assert fake_twilio.bodies_to(CUSTOMER) == ["Respuesta a: Hola"]
    # The retried runs did not duplicate the customer's message in the AI's memory.
    _post(client, "Otra pregunta")
    wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 2)
    # The note of this moment comes just before the newest message, never among the old ones.
    assert prompt_roles(fake_openai.requests[-1]) == ["system", "user", "assistant", "note", "user"]


def test_the_system_prompt_comes_from_the_advisors_settings(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.add_advisor(
        "Ana",
        ADVISOR_NUMBER,
        settings='{"system_prompt": "Eres {advisor_name}, de Inmobiliaria Sol.", "language": "en"}',
    )
    _post(client, "Hello")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER))
    system = fake_openai.requests[0]["messages"][0]
    assert system["role"] == "system"
    instructions = system["content"][len(RULEBOOK) :]  # after the rules every advisor shares
    assert system["content"].startswith(RULEBOOK)
    assert "\nEres Ana, de Inmobiliaria Sol.\n" in instructions
    assert "Idioma de Ana (si no está claro el del cliente): inglés." in instructions


def _hours_closed_now() -> str:
    """Working hours (Bogotá) of one hour tomorrow only: now is always outside them."""
    tomorrow = (datetime.now(ZoneInfo("America/Bogota")) + timedelta(days=1)).weekday()
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[tomorrow]
    hours = {day: ["08:00-09:00"]}
    return json.dumps({"time_zone": "America/Bogota", "working_hours": hours, "language": "en"})


def test_outside_working_hours_the_away_message_says_when_in_the_customers_language(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio
) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER, settings=_hours_closed_now())
    with TestClient(create_app(make_settings(openai_api_key=None, openai_base_url=None))) as client:
        _post(client, "Hola, ¿cuánto cuesta el apartamento?")
        _post(client, "Hi, how much is the apartment?", customer="+14155550100")
        wait_for(lambda: fake_twilio.bodies_to(CUSTOMER) and fake_twilio.bodies_to("+14155550100"))
    assert fake_twilio.bodies_to(CUSTOMER) == [
        "Hola, soy Ana. Recibí tu mensaje y te responderé personalmente muy pronto. "
        "Ahora estoy fuera de horario; vuelvo mañana a las 08:00."
    ]
    assert fake_twilio.bodies_to("+14155550100") == [
        "Hi, this is Ana. I got your message and will reply personally very soon. "
        "I'm out of office right now; I'll be back tomorrow at 08:00."
    ]


def test_a_handover_outside_working_hours_tells_the_agent_when_the_advisor_is_back(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.advisor_wrote_today(
        db.add_advisor("Ana", ADVISOR_NUMBER, settings=_hours_closed_now(), phone="+573009990000")
    )

    def hand_over_then_relay(messages: list[dict[str, Any]]) -> Reply:
        if messages[-1]["role"] == "tool":
            return {"content": "Relayed: " + messages[-1]["content"]}
        return {
            "content": None,
            "tool_calls": [("hand_over_to_advisor", {"reason": "wants to buy", "category": "negotiation"})],
        }

    fake_openai.behaviour = hand_over_then_relay
    _post(client, "I want to buy it, can I talk to Ana?")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER) and fake_twilio.bodies_to("+573009990000"))
    assert "está fuera de horario y vuelve mañana a las 08:00" in moment_note_of(fake_openai.requests[0])
    reply = fake_twilio.bodies_to(CUSTOMER)[0]
    assert reply.startswith(
        "Relayed: El asesor ya fue avisado, pero ahora está fuera de horario y vuelve mañana"
    )
    assert "08:00, America/Bogota)" in reply  # the tool's answer says when, in the prompt's language
    # The advisor's notice is in the advisor's language (English here).
    notice = fake_twilio.bodies_to("+573009990000")[0]
    assert notice.startswith(f"🔔 {CUSTOMER} needs a human (negotiation): wants to buy")
    assert "Last message: “I want to buy it, can I talk to Ana?”" in notice  # the brief's short form


def test_offline_mode_answers_with_the_away_message(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    ana = db.add_advisor(
        "Ana",
        ADVISOR_NUMBER,
        phone="+573005550001",
        settings='{"away_message": "Hola, soy {advisor_name}; ya te escribo."}',
    )
    db.advisor_wrote_today(ana)
    settings = make_settings(openai_api_key=None, openai_base_url=None)
    with TestClient(create_app(settings)) as client:
        _post(client, "Hola")
        wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the away message")
        # It promised a person: the conversation waits for Ana, as after a hand-over, and she is told.
        notice = wait_for(lambda: fake_twilio.bodies_to("+573005550001"), what="the advisor's notice")[0]
        _post(client, "¿Hola? ¿Alguien?")
        settle(db)
    assert fake_twilio.bodies_to(CUSTOMER) == ["Hola, soy Ana; ya te escribo."]  # once, not per message
    assert fake_openai.requests == []
    assert db.outbound()[0]["author"] == "system"
    assert "no hay modelo de IA configurado" in notice
    assert db.query("SELECT category FROM handovers") == [{"category": "tool_failure"}]
    conversation = db.conversation(ana, CUSTOMER)
    assert conversation is not None and conversation["ai_attention"] is False


def test_dry_run_without_twilio_credentials_stores_the_reply_unsent(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio
) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    settings = make_settings(twilio_account_sid="", twilio_auth_token="still-signs-webhooks-1")
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/webhooks/twilio",
            data=(form := inbound_form(ADVISOR_NUMBER, CUSTOMER, "Hola")),
            headers={"X-Twilio-Signature": _sign_with("still-signs-webhooks-1", form)},
        )
        assert response.status_code == 200
        row = wait_for(lambda: [r for r in db.outbound() if r["status"] == "dry_run"])[0]
    assert row["body"] == "Respuesta a: Hola"
    assert row["twilio_sid"] is None
    assert fake_twilio.attempts == 0


def test_agent_hands_over_to_the_human_and_then_stays_quiet(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    def model(messages: list[dict[str, Any]]) -> Reply:
        if messages[-1]["role"] == "tool":
            return {"content": "Te paso con Ana, ella te escribe en breve."}
        if "persona" in str(messages[-1]["content"]):
            return {
                "tool_calls": [
                    (
                        "hand_over_to_advisor",
                        {"reason": "Pide hablar con una persona", "category": "customer_request"},
                    )
                ]
            }
        return echo_model(messages)

    fake_openai.behaviour = model
    advisor_id = db.add_advisor("Ana", ADVISOR_NUMBER)
    _post(client, "Quiero hablar con una persona")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the handover notice")
    conversation = db.conversation(advisor_id, CUSTOMER)
    assert conversation is not None
    assert conversation["ai_attention"] is False
    assert conversation["handover_reason"] == "Pide hablar con una persona"
    assert conversation["ai_attention_changed_by"] == "ai"
    recorded = db.query("SELECT reason, category FROM handovers WHERE advisor_id = %s", (advisor_id,))
    assert recorded == [{"reason": "Pide hablar con una persona", "category": "customer_request"}]
    assert fake_twilio.bodies_to(CUSTOMER) == ["Te paso con Ana, ella te escribe en breve."]
    _post(client, "¿Hola?")
    settle(db)
    assert len(fake_twilio.bodies_to(CUSTOMER)) == 1
    tools = {tool["function"]["name"]: tool["function"] for tool in fake_openai.requests[0]["tools"]}
    category = tools["hand_over_to_advisor"]["parameters"]["properties"]["category"]
    assert set(category["enum"]) == {
        "customer_request",
        "missing_knowledge",
        "negotiation",
        "complaint",
        "out_of_scope",
        "after_hours",
        "tool_failure",
        "loop",
    }
    assert set(tools) == {
        "hand_over_to_advisor",
        "set_audio_preference",
        "update_customer_profile",
        "offer_choices",
        "search_knowledge",
    }


def test_everything_the_model_reads_is_one_language_with_its_rules_and_described_arguments(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    """Read from the request the model is sent: prompt, tool and argument descriptions, results."""

    def search_first(messages: list[dict[str, Any]]) -> Reply:
        if messages[-1]["role"] == "tool":
            return {"content": "Déjame confirmarlo."}
        return {"tool_calls": [("search_knowledge", {"query": "precio"})]}

    fake_openai.behaviour = search_first
    db.add_advisor("Ana Gómez", ADVISOR_NUMBER)
    _post(client, "¿Cuánto cuesta?")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the answer")
    first, second = fake_openai.requests[0], fake_openai.requests[1]
    system = first["messages"][0]["content"]
    assert "Eres el asistente virtual de Ana Gómez" in system  # an assistant of the advisor, not them
    assert "con honestidad" in system  # honest when asked whether it is a bot
    for trigger in (
        "pide hablar con una persona",
        "se queja",
        "descuentos",
        "legal o de pagos",
        "menor de edad",
    ):
        assert trigger in system
    assert "Nunca prometas descuentos, precios especiales, fechas de entrega ni reservas" in system
    assert "*negrita*" in system and "tablas" in system  # WhatsApp formatting
    assert "Hoy es " in moment_note_of(first)  # the date, with no working hours set
    assert guess_language(moment_note_of(first)) == "es"
    assert first["max_completion_tokens"] > 0
    for schema in first["tools"]:
        function = schema["function"]
        assert "Args:" not in function["description"]
        assert guess_language(function["description"]) == "es", function["name"]
        for name, argument in function["parameters"]["properties"].items():
            assert argument.get("description"), (function["name"], name)
            assert guess_language(argument["description"]) == "es", (function["name"], name)
    result = second["messages"][-1]
    assert result["role"] == "tool" and result["content"].startswith("No se encontró nada")


def test_agent_sets_the_audio_preference_for_this_customer(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    def model(messages: list[dict[str, Any]]) -> Reply:
        if messages[-1]["role"] == "tool":
            return {"content": "Listo, te enviaré audios."}
        return {"tool_calls": [("set_audio_preference", {"enabled": True})]}

    fake_openai.behaviour = model
    advisor_id = db.add_advisor("Ana", ADVISOR_NUMBER)
    _post(client, "mándame audios")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER))
    conversation = db.conversation(advisor_id, CUSTOMER)
    assert conversation is not None and conversation["audio_available"] is True
    assert conversation["ai_attention"] is True


def _while_the_model_thinks(client: TestClient, db: Db, fake_openai: FakeOpenAI, change: str) -> str:
    """Ana's customer writes; while the model thinks, `change` (SQL, Ana's id as its one parameter)
    is made; then the turn settles. Returns Ana's id."""
    advisor_id = db.add_advisor("Ana", ADVISOR_NUMBER)
    fake_openai.latency = 1.0
    _post(client, "Hola")
    wait_for(lambda: fake_openai.requests, what="the model call to start")
    db.query(change, (advisor_id,))
    settle(db)
    return advisor_id


def test_reply_is_dropped_when_the_advisor_takes_over_while_the_model_thinks(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    advisor_id = _while_the_model_thinks(
        client,
        db,
        fake_openai,
        "UPDATE chat_history SET ai_attention = false, ai_attention_changed_by = 'advisor', "
        "ai_attention_changed_at = now() WHERE advisor_id = %s",
    )
    assert fake_twilio.attempts == 0
    assert db.outbound() == []
    assert db.query("SELECT status FROM messages")[0]["status"] == "held_for_advisor"
    # The dropped answer was removed from the AI's memory: it never "said" it.
    fake_openai.latency = 0
    db.query("UPDATE chat_history SET ai_attention = true WHERE advisor_id = %s", (advisor_id,))
    _post(client, "¿Hola?")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER))
    assert prompt_roles(fake_openai.requests[-1]) == ["system", "user", "note", "user"]


def test_prompt_stays_within_the_token_budget_as_the_conversation_grows(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    # 25 turns in seconds look like another bot: the loop guard is off for this test.
    settings = make_settings(model_context_tokens=2200, reply_token_reserve=100, ai_loop_max_replies=0)
    filler = "palabra " * 40
    with TestClient(create_app(settings)) as client:
        for turn in range(25):
            _post(client, f"turno {turn} {filler}")
            wait_for(lambda turn=turn: len(fake_twilio.bodies_to(CUSTOMER)) == turn + 1, timeout=20)
    sizes = [sum(len(str(m.get("content") or "")) for m in r["messages"]) for r in fake_openai.requests]
    last = fake_openai.requests[-1]["messages"]
    assert last[0]["role"] == "system"
    assert last[-1]["content"].startswith("turno 24 ")
    assert last[1]["role"] == "user"
    # ~4 characters a token: every prompt stays under the 2,100-token budget once it is reached.
    assert max(sizes) <= 2100 * 4
    assert sizes[-1] <= sizes[12] * 1.2


def _sign_with(token: str, form: dict[str, str]) -> str:
    from tests.conftest import sign

    return sign("http://testserver/webhooks/twilio", form, token)


def test_model_refusing_the_request_falls_back_to_the_away_message(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    fake_openai.failures = [400]
    db.add_advisor("Ana", ADVISOR_NUMBER)
    _post(client, "Hola")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the fallback reply")
    settle(db)
    assert len(fake_openai.requests) == 1
    assert fake_twilio.bodies_to(CUSTOMER)[0].startswith("Hola, soy Ana.")
    inbound = db.query("SELECT status FROM messages WHERE direction = 'inbound'")
    assert inbound == [{"status": "ai_failed"}]
    assert (
        "Error code: 400"
        in db.query("SELECT error_message FROM messages WHERE direction = 'inbound'")[0]["error_message"]
    )
    handover = db.query("SELECT reason, category FROM handovers")  # the away message promised a person
    assert len(handover) == 1 and handover[0]["category"] == "tool_failure"
    assert handover[0]["reason"].startswith("el modelo de IA rechazó la solicitud (")


def test_messages_of_an_advisor_deactivated_meanwhile_get_no_ai_reply(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    advisor_id = db.add_advisor("Ana", ADVISOR_NUMBER)
    with TestClient(create_app(make_settings(debounce_seconds=1.0))) as client:
        _post(client, "Hola")
        db.query("UPDATE advisors SET is_active = false WHERE id = %s", (advisor_id,))
        settle(db)
    assert fake_twilio.attempts == 0
    assert fake_openai.requests == []
    assert db.query("SELECT status FROM messages") == [{"status": "advisor_inactive"}]


def test_an_answer_written_while_its_advisor_was_deactivated_is_not_sent(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    """The turn's end records the first part `sending` only for an active advisor; else it waits."""
    _while_the_model_thinks(client, db, fake_openai, "UPDATE advisors SET is_active = false WHERE id = %s")
    assert fake_twilio.attempts == 0
    assert db.query("SELECT status, error_message FROM messages WHERE direction = 'outbound'") == [
        {"status": "failed", "error_message": "not sent: the advisor was deactivated"}
    ]


def test_an_answers_first_part_is_sent_without_a_second_check_of_its_own(
    client: TestClient, db: Db, fake_twilio: FakeTwilio
) -> None:
    """The turn's end clears it (`sending`), so the send needs no statement of its own before it."""
    db.add_advisor("Ana", ADVISOR_NUMBER)
    _post(client, "Hola")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER))
    settle(db)
    row = db.outbound()[0]
    assert row["status"] == "queued" and row["twilio_sid"] == fake_twilio.sent[0].sid  # Twilio's answer
    assert fake_twilio.list_requests == 0  # `sending` by this attempt: Twilio's list is not asked


def test_a_message_twilio_accepted_but_never_confirmed_is_not_sent_twice(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio
) -> None:
    """Twilio takes the message, but the answer never arrives (timeout, or the worker dies).

    The retry asks Twilio's message list first, finds it, and records its SID instead of
    sending the reply a second time.
    """
    fake_twilio.stall_next, fake_twilio.stall_seconds = 1, 2.0
    db.add_advisor("Ana", ADVISOR_NUMBER)
    with TestClient(create_app(make_settings(twilio_timeout_seconds=0.5))) as client:
        _post(client, "Hola")
        wait_for(
            lambda: [r for r in db.outbound() if r["status"] not in ("pending", "sending")],
            timeout=20,
            what="the reply to be recorded",
        )
        settle(db)
    assert fake_twilio.bodies_to(CUSTOMER) == ["Respuesta a: Hola"]
    assert fake_twilio.list_requests >= 1
    row = db.outbound()[0]
    assert row["twilio_sid"] == fake_twilio.sent[0].sid
    assert row["status"] == "sent"


def _summarising_model(messages: list[dict[str, Any]]) -> Reply:
    """A model that answers like `echo_model` and, asked for a summary, keeps every "dato N" shown."""
    if str(messages[0]["content"]).startswith("Resume la conversación"):
        facts = dict.fromkeys(re.findall(r"dato \d+", str(messages[-1]["content"])))
        return {"content": "Datos del cliente: " + ", ".join(facts)}
    return echo_model(messages)


def _answers(fake_openai: FakeOpenAI) -> list[dict[str, Any]]:
    return [r for r in fake_openai.requests if not str(r["messages"][0]["content"]).startswith("Resume")]


def _summaries(fake_openai: FakeOpenAI) -> list[dict[str, Any]]:
    return [r for r in fake_openai.requests if str(r["messages"][0]["content"]).startswith("Resume")]


def test_old_turns_are_folded_into_a_summary_and_each_checkpoint_holds_one_turn(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    fake_openai.behaviour = _summarising_model
    settings = make_settings(ai_memory_tokens=400, ai_loop_max_replies=0)
    budget = memory_budget_for(settings)
    # Many turns in seconds look like another bot: the loop guard is off for this test.
    with TestClient(create_app(settings)) as client:
        for turn in range(25):
            _post(client, f"pregunta {turn}: dato {turn} " + "detalle " * 10)
            wait_for(lambda n=turn: len(fake_twilio.bodies_to(CUSTOMER)) == n + 1, what=f"reply {turn}")
        settle(db)
    answers, summaries = _answers(fake_openai), _summaries(fake_openai)
    assert len(answers) == 25
    assert 0 < len(summaries) < 25 // 2  # folds take half the verbatim turns: they stay rare
    last = answers[-1]["messages"]
    assert last[-1]["content"].startswith("pregunta 24")
    # The earliest facts are in the summary after the system prompt; the rest is verbatim.
    system = last[0]["content"]
    assert "Resumen de lo anterior" in system and "dato 0," in system
    verbatim = "".join(str(m["content"]) for m in last[1:-1])
    assert "pregunta 0:" not in verbatim and "pregunta 23:" in verbatim
    assert len(verbatim) <= budget.turns_tokens * 4
    sizes = [len(request["messages"]) for request in answers]
    assert max(sizes[10:]) < sizes[0] + 2 * 12  # bounded however long the conversation
    # One checkpoint per turn (durability "exit"), one more per fold (written after the reply),
    # and it holds this turn, not the conversation.
    assert db.count("checkpoints") == 25 + len(summaries)
    blobs = db.query(
        "SELECT position('pregunta 24:'::bytea IN blob) > 0 AS newest,"
        " position('pregunta 23:'::bytea IN blob) > 0 AS older FROM checkpoint_blobs"
        " WHERE channel = 'messages' ORDER BY version DESC LIMIT 1"
    )
    assert blobs == [{"newest": True, "older": False}]


def _metric(client: TestClient, line: str) -> float:
    """A sample of /metrics (0 when it is not there yet)."""
    text = client.get("/metrics", headers={"Authorization": "Bearer metrics-token-0123456789"}).text
    found = [row for row in text.splitlines() if row.startswith(line + " ")]
    return float(found[0].split()[-1]) if found else 0.0


def test_a_fold_runs_after_the_reply_and_one_that_keeps_failing_backs_off_and_keeps_the_facts(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    """A model that cannot summarise must not cost a failed call on every turn, nor let the
    prompt grow: it is tried again after waiting, and the customer's own sentences with names
    and figures become the summary meanwhile."""
    db.add_advisor("Ana", ADVISOR_NUMBER)
    failing = True

    def model(messages: list[dict[str, Any]]) -> Reply:
        if str(messages[0]["content"]).startswith("Resume la conversación"):
            if failing:
                return {"content": ""}
            facts = dict.fromkeys(re.findall(r"dato \d+|\d+ millones", str(messages[-1]["content"])))
            return {"content": "Datos del cliente: " + ", ".join(facts)}
        return echo_model(messages)

    fake_openai.behaviour = model
    settings = make_settings(
        ai_memory_tokens=1200, ai_loop_max_replies=0, metrics_token="metrics-token-0123456789"
    )
    failed = 'advisor_bot_folds_total{outcome="failed"}'
    with TestClient(create_app(settings)) as client:
        failed_before = _metric(client, failed)
        for turn in range(30):
            _post(client, f"pregunta {turn}: mi presupuesto es de {100 + turn} millones. " + "detalle " * 10)
            wait_for(lambda n=turn: len(fake_twilio.bodies_to(CUSTOMER)) == n + 1, what=f"reply {turn}")
            settle(db)
        first = next(i for i, r in enumerate(fake_openai.requests) if r in _summaries(fake_openai))
        # The summary is asked for after the turn's answer, never before it.
        answered = fake_openai.requests[first - 1]["messages"][-1]["content"]
        assert fake_openai.requests[first - 1] in _answers(fake_openai) and answered.startswith("pregunta ")
        due_turns = len(_answers(fake_openai)) - answered_turn_of(fake_openai, first)
        tried = len(_summaries(fake_openai))
        assert 2 <= tried < due_turns // 2  # backed off, not a failed call on every turn
        assert _metric(client, failed) - failed_before == tried
        # Meanwhile the customer's own words with the figures made the summary: the prompt stayed bounded.
        system = _answers(fake_openai)[-1]["messages"][0]["content"]
        kept = re.findall(r"Cliente: pregunta \d+: mi presupuesto es de (\d+) millones\.", system)
        assert (
            "Resumen de lo anterior" in system and kept and "detalle" not in system.rsplit("<resumen>", 1)[1]
        )
        sizes = [len(json.dumps(r["messages"])) for r in _answers(fake_openai)]
        assert max(sizes[-5:]) < max(sizes) * 1.1
        assert db.query("SELECT summary FROM conversation_summaries")[0]["summary"].startswith(
            "Cliente: pregunta"
        )
        # The model is back: after its wait it folds again, and keeps what the summary held.
        failing = False
        turn = 30
        while "Datos del cliente" not in _answers(fake_openai)[-1]["messages"][0]["content"]:
            assert turn < 120, "the model was never asked again"
            _post(client, f"pregunta {turn}: mi presupuesto es de {100 + turn} millones. " + "detalle " * 10)
            wait_for(lambda n=turn: len(fake_twilio.bodies_to(CUSTOMER)) == n + 1, what=f"reply {turn}")
            settle(db)
            turn += 1
    system = _answers(fake_openai)[-1]["messages"][0]["content"]
    summary = system.rsplit("<resumen>", 1)[1]
    # The model's summary keeps only some figures: those it dropped are kept after it, in code.
    assert "Datos del cliente:" in summary and "Datos anteriores: Cliente: pregunta" in summary


def answered_turn_of(fake_openai: FakeOpenAI, index: int) -> int:
    """How many answers came before request `index`."""
    return sum(1 for r in fake_openai.requests[:index] if r in _answers(fake_openai))


def test_pruning_keeps_only_the_latest_checkpoint_and_the_whole_memory(
    make_settings: Callable[..., Settings],
    db: Db,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    database_url: str,
) -> None:
    import asyncio

    from memory.ai.checkpointer import open_checkpointer, prune_superseded_checkpoints

    db.add_advisor("Ana", ADVISOR_NUMBER)
    with TestClient(create_app(make_settings())) as client:
        for turn in range(4):
            _post(client, f"pregunta {turn}")
            wait_for(lambda n=turn: len(fake_twilio.bodies_to(CUSTOMER)) == n + 1, what=f"reply {turn}")
        settle(db)
        assert db.count("checkpoints") == 4
        blobs_before = db.count("checkpoint_blobs")

        async def prune() -> int:
            saver, pool = await open_checkpointer(database_url, transaction_pooler=False, max_size=2)
            try:
                return await prune_superseded_checkpoints(saver)
            finally:
                await pool.close()

        assert asyncio.run(prune()) == 1
        assert db.count("checkpoints") == 1
        assert db.count("checkpoint_blobs") < blobs_before
        assert asyncio.run(prune()) == 0
        _post(client, "pregunta 4")
        wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 5, what="the reply after pruning")
        settle(db)
    assert customer_said(fake_openai.requests[-1]) == [f"pregunta {turn}" for turn in range(5)]


def test_our_own_numbers_are_never_answered_so_two_advisors_cannot_loop(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    db.add_advisor("Bruno", "+14155238887", phone="+573009990001")
    _post(client, "Hola, soy el bot de Bruno", customer="+14155238887")
    _post(client, "Hola", customer=CUSTOMER)  # a real customer is still answered
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the customer's reply")
    settle(db)
    assert fake_twilio.bodies_to("+14155238887") == []
    assert db.query("SELECT phone_number FROM chat_history") == [{"phone_number": CUSTOMER}]
    assert len(fake_openai.requests) == 1


def test_a_bot_answering_the_ai_is_handed_to_the_advisor_after_a_bounded_number_of_replies(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.advisor_wrote_today(db.add_advisor("Ana", ADVISOR_NUMBER, phone="+573005550001"))
    with TestClient(create_app(make_settings(ai_loop_max_replies=3, ai_loop_window_seconds=600))) as client:
        for turn in range(6):  # an auto-responder that answers every reply
            _post(client, f"Respuesta automática {turn}")
            wait_for(
                lambda: (
                    db.query("SELECT 1 FROM messages WHERE direction = 'inbound' AND processed_at IS NULL")
                    == []
                ),
                what="the message to be processed",
            )
        settle(db)
    assert len(fake_twilio.bodies_to(CUSTOMER)) == 3
    assert len(fake_openai.requests) == 3
    conversation = db.query("SELECT ai_attention, handover_reason FROM chat_history")[0]
    assert conversation["ai_attention"] is False
    assert "sin un humano" in conversation["handover_reason"]
    assert db.query("SELECT category FROM handovers") == [{"category": "loop"}]
    wait_for(lambda: fake_twilio.bodies_to("+573005550001"), what="the advisor's notice")
    held = db.query("SELECT count(*) AS n FROM messages WHERE status = 'held_for_advisor'")[0]["n"]
    assert held == 3


PRICED = json.dumps(
    {"system_prompt": "Eres Ana. El apartamento de 2 habitaciones en Bello cuesta $250.000.000."}
)


def _invents(times: int) -> Callable[[list[dict[str, Any]]], Reply]:
    """A model that states a price nobody gave `times` times, then the catalogue's."""
    answers = {"count": 0}

    def model(messages: list[dict[str, Any]]) -> Reply:
        answers["count"] += 1
        if answers["count"] <= times:
            return {"content": "Ese te sale en $180.000.000, una ganga."}
        return {"content": "Cuesta 250 millones; Ana te confirma la separación."}

    return model


def test_a_reply_with_a_figure_nobody_gave_is_asked_again_naming_it(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour = _invents(1)
    db.add_advisor("Ana", ADVISOR_NUMBER, settings=PRICED)
    _post(client, "cuanto vale el de bello?")
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the grounded reply")
    settle(db)
    assert fake_twilio.bodies_to(CUSTOMER) == ["Cuesta 250 millones; Ana te confirma la separación."]
    asked_again = fake_openai.requests[1]["messages"][-1]
    assert asked_again["role"] == "user" and "180.000.000" in asked_again["content"]
    assert db.query("SELECT count(*) AS n FROM handovers")[0]["n"] == 0


def test_a_reply_still_inventing_after_being_asked_again_is_held_and_handed_over(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour = _invents(2)
    advisor_id = db.add_advisor("Ana", ADVISOR_NUMBER, phone="+573005550001", settings=PRICED)
    db.advisor_wrote_today(advisor_id)
    _post(client, "cuanto vale el de bello?")
    wait_for(lambda: fake_twilio.bodies_to("+573005550001"), what="the advisor's notice")
    settle(db)
    assert fake_twilio.bodies_to(CUSTOMER) == ["Déjame confirmarlo con Ana y te escribo en cuanto lo tenga."]
    assert not any("180" in message.body for message in fake_twilio.sent)  # never sent, to anyone
    assert len(fake_openai.requests) == 2  # asked once again, not more
    assert db.query("SELECT category FROM handovers") == [{"category": "missing_knowledge"}]
    inbound = db.query("SELECT status, error_message FROM messages WHERE direction = 'inbound'")[0]
    assert inbound == {"status": "ungrounded", "error_message": "figures nobody gave: 180.000.000"}
    # Not in the AI's memory either: the next turn never reads the invented price.
    db.query("UPDATE chat_history SET ai_attention = true")
    fake_openai.behaviour = echo_model
    _post(client, "hola de nuevo")
    wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) == 2, what="the next reply")
    assert "180" not in json.dumps(fake_openai.requests[-1]["messages"])


def test_a_button_tap_reaches_the_agent_with_the_question_it_answers(
    client: TestClient,
    db: Db,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    shared_samples: dict[str, dict[str, str]],
) -> None:
    """The tap (../shared/twilio/inbound-button-reply.json) names the message it answers by SID."""
    db.add_advisor("Ana", "+14155238886")
    assert signed_post(client, inbound_form("+14155238886", "+573001112233", "Hola")).status_code == 200
    wait_for(lambda: fake_twilio.sent, what="the AI's question")
    settle(db)
    asked = fake_twilio.sent[0]
    tap = {**shared_samples["inbound-button-reply"], "OriginalRepliedMessageSid": asked.sid}
    assert signed_post(client, tap).status_code == 200
    wait_for(lambda: len(fake_twilio.sent) == 2, what="the answer to the tap")
    stored = db.query("SELECT payload FROM messages WHERE twilio_sid = %s", (tap["MessageSid"],))[0][
        "payload"
    ]
    assert (
        stored["_replying_to"] == {"author": "ai", "body": asked.body}
        and stored["ButtonPayload"] == "schedule_visit"
    )
    prompt = str(fake_openai.requests[-1]["messages"][-1]["content"])
    assert f"«Sí, agendar visita» (id: schedule_visit) en respuesta a: «{asked.body}»" in prompt


def _reaction(to_sid: str, emoji: str, sid: str) -> dict[str, str]:
    """A customer's reaction to one of our messages, in the form the product reads (see `reaction_of`)."""
    return inbound_form(
        ADVISOR_NUMBER, CUSTOMER, emoji, sid=sid, MessageType="reaction", OriginalRepliedMessageSid=to_sid
    )


def test_a_reaction_to_a_statement_is_noted_and_one_to_a_question_is_answered(
    client: TestClient, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    _post(client, "Hola")
    statement = wait_for(lambda: fake_twilio.sent, what="the AI's greeting")[0]
    settle(db)
    assert signed_post(client, _reaction(statement.sid, "❤️", "SM" + "1" * 32)).status_code == 200
    settle(db)
    assert len(fake_twilio.sent) == 1 and len(fake_openai.requests) == 1  # no reply, no model call
    noted = db.query("SELECT body, status, payload FROM messages WHERE twilio_sid = %s", ("SM" + "1" * 32,))[
        0
    ]
    assert (noted["body"], noted["status"], noted["payload"]["_reaction"]) == (
        "❤️",
        "reaction_noted",
        {"emoji": "❤️"},
    )
    _post(client, "¿Hay parqueadero?")
    wait_for(lambda: len(fake_twilio.sent) == 2, what="the answer to the question")
    question = fake_twilio.sent[1]  # the fake model echoes the question, so this reply asks one
    read = [str(m["content"]) for m in fake_openai.requests[-1]["messages"]]
    assert f"[El cliente reaccionó con ❤️ a tu mensaje: «{statement.body}»]" in read  # context, later
    settle(db)
    assert signed_post(client, _reaction(question.sid, "👍", "SM" + "2" * 32)).status_code == 200
    wait_for(lambda: len(fake_twilio.sent) == 3, what="the answer to the 👍")
    said = str(fake_openai.requests[-1]["messages"][-1]["content"])
    assert said == f"[El cliente reaccionó con 👍 a tu mensaje: «{question.body}»]"
    settle(db)
    assert signed_post(client, _reaction(question.sid, "", "SM" + "3" * 32)).status_code == 200
    settle(db)
    assert len(fake_twilio.sent) == 3  # taking a reaction back is never answered
