"""A model that misbehaves never goes unseen: each reproduced with a fake model through the real client.

Tools called for ever, nothing answered, an answer that runs for pages: the customer gets a
bounded, honest reply and the advisor gets the conversation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio, Reply

ADVISOR, ADVISOR_PHONE, CUSTOMER = "+14155238886", "+573005550001", "+573001112233"
ADMIN = "admin-token-for-tests-0123456789"
HOLDING = "Déjame confirmarlo con Ana y te escribo en cuanto lo tenga."


def _ask(
    make_settings: Callable[..., Settings], db: Db, text: str = "hola, una pregunta", **values: Any
) -> None:
    db.advisor_wrote_today(db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE))
    with TestClient(create_app(make_settings(**values))) as client:
        assert signed_post(client, inbound_form(ADVISOR, CUSTOMER, text)).status_code == 200
        wait_for(
            lambda: db.query(
                "SELECT 1 FROM messages WHERE direction = 'inbound' AND processed_at IS NOT NULL"
            )
        )
        settle(db)


def test_a_model_that_keeps_calling_tools_is_stopped_and_a_person_takes_over(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour = lambda messages: {"tool_calls": [("set_audio_preference", {"enabled": False})]}
    _ask(make_settings, db, ai_max_tool_rounds=4)
    assert len(fake_openai.requests) == 4  # four rounds, then no more model calls
    assert fake_twilio.bodies_to(CUSTOMER) == [HOLDING]
    assert db.query("SELECT category FROM handovers") == [{"category": "tool_failure"}]
    inbound = db.query("SELECT status, error_message FROM messages WHERE direction = 'inbound'")[0]
    assert inbound == {"status": "ai_gave_up", "error_message": "the model gave no answer: tool_rounds"}
    assert wait_for(lambda: fake_twilio.bodies_to(ADVISOR_PHONE), what="the advisor's notice")


def test_an_empty_answer_is_asked_again_once(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    def once_empty(messages: list[dict[str, Any]]) -> Reply:
        asked_again = "Tu respuesta llegó vacía" in str(messages[-1]["content"])
        return {"content": "Claro, ¿qué necesitas?" if asked_again else ""}

    fake_openai.behaviour = once_empty
    _ask(make_settings, db)
    assert fake_twilio.bodies_to(CUSTOMER) == ["Claro, ¿qué necesitas?"]
    assert len(fake_openai.requests) == 2 and db.query("SELECT 1 FROM handovers") == []


def test_an_answer_empty_twice_gets_the_holding_text_and_a_hand_over(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour = lambda messages: {"content": ""}
    _ask(make_settings, db)
    assert fake_twilio.bodies_to(CUSTOMER) == [HOLDING]
    assert len(fake_openai.requests) == 2
    assert db.query("SELECT category FROM handovers") == [{"category": "tool_failure"}]


def test_a_runaway_answer_is_bounded_in_tokens_and_in_whatsapp_messages(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    rambling = " ".join(
        f"Esta es la frase número uno de un texto muy largo sin fin, parte {'x' * 3}." for _ in range(300)
    )
    fake_openai.behaviour = lambda messages: {"content": rambling}
    _ask(make_settings, db, max_reply_parts=3, reply_token_reserve=700)
    sent = fake_twilio.bodies_to(CUSTOMER)
    assert len(rambling) > 17_000 and len(sent) == 3  # not a dozen messages
    assert sent[-1].endswith("…") and all(len(part) <= 1600 for part in sent)
    bound = fake_openai.requests[0].get("max_completion_tokens", fake_openai.requests[0].get("max_tokens"))
    assert bound == 700  # the model itself is told the bound (OpenAI's current name for max_tokens)


def test_an_ai_reply_is_not_sent_once_a_person_paused_the_ai_after_it_was_written(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    """The sender asks again just before each Twilio call: a takeover mid-reply stops its next part."""
    two_parts = (
        ("Primera parte de una respuesta larga. " * 45).strip() + " " + "Y la segunda parte llega después."
    )
    fake_openai.behaviour = lambda messages: {"content": two_parts}
    fake_twilio.latency = 1.5  # each part is in Twilio's hands a while before its answer comes
    advisor_id = db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE)
    with TestClient(create_app(make_settings(admin_token=ADMIN))) as client:
        assert signed_post(client, inbound_form(ADVISOR, CUSTOMER, "cuéntame todo")).status_code == 200
        wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the first part handed to Twilio")
        conversation = db.conversation(advisor_id, CUSTOMER)
        assert conversation is not None
        paused = client.patch(
            f"/api/conversations/{conversation['conversation_id']}",
            json={"ai_attention": False},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert paused.status_code == 200
        wait_for(
            lambda: db.query("SELECT 1 FROM messages WHERE status = 'cancelled'"),
            what="the second part cancelled",
        )
        settle(db)
    assert len(fake_twilio.bodies_to(CUSTOMER)) == 1
    rows = db.query("SELECT status, error_message FROM messages WHERE direction = 'outbound' ORDER BY id")
    assert len(rows) == 2 and rows[1]["status"] == "cancelled"
    assert rows[1]["error_message"] == "not sent: a person paused the AI after this reply was written"


def test_a_rate_limited_model_is_asked_again_no_sooner_than_its_retry_after(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    fake_openai.failures = [429, 429]
    fake_openai.failure_error = {
        "message": "Rate limit reached",
        "type": "requests",
        "code": "rate_limit_exceeded",
    }
    fake_openai.failure_headers = {"Retry-After": "2"}
    db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE)
    with TestClient(create_app(make_settings(job_retry_base_seconds=0))) as client:
        assert signed_post(client, inbound_form(ADVISOR, CUSTOMER, "hola")).status_code == 200
        wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the answer after the waits", timeout=30)
    times = fake_openai.request_times
    assert len(times) == 3
    # The queue's own backoff (base 0) would have asked again at once; the server asked for 2 s.
    assert times[1] - times[0] >= 1.9 and times[2] - times[1] >= 1.9
    assert db.query("SELECT count(*) AS n FROM handovers")[0]["n"] == 0


def test_a_model_rate_limited_to_the_last_attempt_hands_the_customer_to_the_advisor(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    fake_openai.failures = [429, 429, 429]
    fake_openai.failure_headers = {"Retry-After": "0"}
    db.advisor_wrote_today(db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE))
    with TestClient(create_app(make_settings(job_max_attempts=3))) as client:
        assert signed_post(client, inbound_form(ADVISOR, CUSTOMER, "hola, ¿hay alguien?")).status_code == 200
        notice = wait_for(
            lambda: fake_twilio.bodies_to(ADVISOR_PHONE), what="the advisor's notice", timeout=30
        )[0]
    assert "no respondió en 3 intentos" in notice
    assert db.query("SELECT category FROM handovers") == [{"category": "tool_failure"}]
    inbound = db.query("SELECT status, error_message FROM messages WHERE direction = 'inbound'")[0]
    assert inbound["status"] == "failed" and "RateLimitError" in inbound["error_message"]
    assert fake_twilio.bodies_to(CUSTOMER) == []  # nothing the model did not write reaches them


def test_a_prompt_too_long_for_the_model_is_asked_again_with_less_memory(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE)
    with TestClient(create_app(make_settings())) as client:
        for n in range(8):
            assert signed_post(client, inbound_form(ADVISOR, CUSTOMER, f"mensaje {n}")).status_code == 200
            wait_for(lambda n=n: len(fake_twilio.bodies_to(CUSTOMER)) > n, what=f"answer {n}")
        fake_openai.failures = [400]
        fake_openai.failure_error = {
            "message": "This model's maximum context length is 4096 tokens.",
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
        }
        asked = len(fake_openai.requests)
        assert signed_post(client, inbound_form(ADVISOR, CUSTOMER, "¿y el precio?")).status_code == 200
        wait_for(lambda: len(fake_twilio.bodies_to(CUSTOMER)) > 8, what="the answer with less memory")
    too_long, retried = fake_openai.requests[asked], fake_openai.requests[asked + 1]
    assert len(retried["messages"]) < len(too_long["messages"])
    assert fake_twilio.bodies_to(CUSTOMER)[-1] == "Respuesta a: ¿y el precio?"
    assert db.query("SELECT count(*) AS n FROM handovers")[0]["n"] == 0


def test_a_prompt_still_too_long_gets_the_away_message_and_the_advisor_is_told(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.advisor_wrote_today(db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE))
    with TestClient(create_app(make_settings())) as client:
        assert signed_post(client, inbound_form(ADVISOR, CUSTOMER, "hola")).status_code == 200
        wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the first answer")
        fake_openai.failures = [400, 400]
        fake_openai.failure_error = {
            "message": "maximum context length exceeded",
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
        }
        assert signed_post(client, inbound_form(ADVISOR, CUSTOMER, "¿sigues?")).status_code == 200
        notice = wait_for(lambda: fake_twilio.bodies_to(ADVISOR_PHONE), what="the advisor's notice")[0]
    assert "el modelo de IA rechazó la solicitud (" in notice
    assert fake_twilio.bodies_to(CUSTOMER)[-1].startswith("Hola, soy Ana")  # the away message
    assert db.query("SELECT category FROM handovers") == [{"category": "tool_failure"}]
