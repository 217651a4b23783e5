"""Storms from the services we call: Twilio answering 429/500 for a while or for good, a model
that times out. Retries back off, attempts are bounded, and what failed for good is visible
through the API with its reason."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio

ADVISOR_NUMBER = "+14155238886"
ADMIN = "admin-token-for-tests-0123456789"
CUSTOMERS = [f"+57300555{n:04d}" for n in range(6)]


def _conversation_messages(client: TestClient, db: Db, customer: str) -> list[dict[str, Any]]:
    conversation = db.query("SELECT conversation_id FROM chat_history WHERE phone_number = %s", (customer,))
    response = client.get(
        f"/api/conversations/{conversation[0]['conversation_id']}",
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert response.status_code == 200, response.text
    return list(response.json()["messages"]["items"])


def test_a_429_and_500_storm_is_ridden_out_with_every_customer_answered_once(
    db: Db, fake_twilio: FakeTwilio, make_settings: Any
) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    # The first 14 sends of the storm fail, 429 and 500 mixed; six customers are writing.
    fake_twilio.failures = [(429, 20429), (500, 20500)] * 7
    with TestClient(create_app(make_settings(job_max_attempts=8))) as client:
        for customer in CUSTOMERS:
            assert signed_post(client, inbound_form(ADVISOR_NUMBER, customer, "hola")).status_code == 200
        wait_for(
            lambda: all(fake_twilio.bodies_to(customer) for customer in CUSTOMERS),
            timeout=60,
            what="every customer's reply after the storm",
        )
        settle(db)
    for customer in CUSTOMERS:
        assert fake_twilio.bodies_to(customer) == ["Respuesta a: hola"]
    # Each failed send cost one attempt and each customer exactly one successful one.
    assert fake_twilio.attempts == 14 + len(CUSTOMERS)
    assert {row["status"] for row in db.outbound()} == {"queued"}


def test_twilio_429_for_good_backs_off_exponentially_gives_up_and_shows_why(
    db: Db, fake_twilio: FakeTwilio, make_settings: Any
) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    fake_twilio.fail_always = (429, 20429)
    settings = make_settings(job_max_attempts=3, job_retry_base_seconds=2, admin_token=ADMIN)
    with TestClient(create_app(settings)) as client:
        assert signed_post(client, inbound_form(ADVISOR_NUMBER, CUSTOMERS[0], "hola")).status_code == 200
        wait_for(
            lambda: [row for row in db.outbound() if row["status"] == "failed"], timeout=40, what="giving up"
        )
        settle(db)
        messages = _conversation_messages(client, db, CUSTOMERS[0])
    times = fake_twilio.attempt_times
    assert len(times) == 3  # bounded: JOB_MAX_ATTEMPTS
    # Backoff JOB_RETRY_BASE_SECONDS ** attempt: at least 2 s, then at least 4 s.
    assert times[1] - times[0] >= 1.9 and times[2] - times[1] >= 3.9
    reply = next(message for message in messages if message["direction"] == "outbound")
    assert reply["status"] == "failed"
    assert "gave up after 3 attempts" in reply["error_message"]
    assert "429" in reply["error_message"]


@pytest.mark.parametrize("attempts", [3, 1])
def test_a_model_that_times_out_is_retried_a_bounded_number_of_times_and_the_message_shows_why(
    attempts: int, db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI, make_settings: Any
) -> None:
    """JOB_MAX_ATTEMPTS=1 means one attempt (the queue library reads a retry bound of 0 as none)."""
    db.add_advisor("Ana", ADVISOR_NUMBER)
    fake_openai.latency = 1.0
    settings = make_settings(
        openai_timeout_seconds=0.2,
        job_max_attempts=attempts,
        admin_token=ADMIN,
        worker_heartbeat_seconds=0.2,
        stalled_worker_seconds=1,
    )
    with TestClient(create_app(settings)) as client:
        assert signed_post(client, inbound_form(ADVISOR_NUMBER, CUSTOMERS[0], "hola")).status_code == 200
        wait_for(
            lambda: db.query("SELECT 1 FROM messages WHERE direction = 'inbound' AND status = 'failed'"),
            timeout=30,
            what="giving up on the model",
        )
        settle(db)
        # Two recovery sweeps later, the failed message is still not retried: it was given up.
        time.sleep(1.5)
        messages = _conversation_messages(client, db, CUSTOMERS[0])
    assert len(fake_openai.requests) == attempts
    assert fake_twilio.sent == []
    inbound = next(message for message in messages if message["direction"] == "inbound")
    assert inbound["status"] == "failed"
    assert f"gave up after {attempts} attempts" in inbound["error_message"]
    assert "model unavailable" in inbound["error_message"]
