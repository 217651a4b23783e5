"""Work whose job ended without doing it (aborted, given up) is queued again from the rows."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from bot.app import create_app
from tests.conftest import Db, inbound_form, signed_post, wait_for
from tests.fakes import FakeTwilio

ADVISOR_NUMBER = "+14155238886"


def test_a_message_whose_job_was_aborted_is_still_answered(
    db: Db, fake_twilio: FakeTwilio, make_settings: Any
) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    with TestClient(create_app(make_settings(), run_worker=False)) as web:
        response = signed_post(web, inbound_form(ADVISOR_NUMBER, "+573001112233", "sigue ahí?"))
        assert response.status_code == 200
    # What procrastinate leaves when a stopping worker cancels a running job: a final status.
    aborted = db.query(
        "UPDATE procrastinate_jobs SET status = 'aborted' WHERE task_name = 'answer_conversation' "
        "RETURNING id"
    )
    assert len(aborted) == 1
    settings = make_settings(worker_heartbeat_seconds=0.2, stalled_worker_seconds=1)
    with TestClient(create_app(settings)):
        wait_for(lambda: fake_twilio.bodies_to("+573001112233"), timeout=20, what="the owed reply")
    assert fake_twilio.bodies_to("+573001112233") == ["Respuesta a: sigue ahí?"]
    assert db.query("SELECT status FROM messages WHERE direction = 'inbound'") == [{"status": "answered"}]


def test_a_reply_left_pending_without_a_job_is_delivered(
    db: Db, fake_twilio: FakeTwilio, make_settings: Any
) -> None:
    db.add_advisor("Ana", ADVISOR_NUMBER)
    with TestClient(create_app(make_settings(), run_worker=False)) as web:
        assert signed_post(web, inbound_form(ADVISOR_NUMBER, "+573001112233", "hola")).status_code == 200
    conversation = db.query("SELECT advisor_id, conversation_id FROM chat_history")[0]
    db.query("UPDATE messages SET processed_at = now(), status = 'answered'")
    db.query(
        "INSERT INTO messages (advisor_id, conversation_id, direction, author, body, status, created_at) "
        "VALUES (%s, %s, 'outbound', 'ai', 'Hola, ¿en qué te ayudo?', 'pending', now() - interval '1 min')",
        (conversation["advisor_id"], conversation["conversation_id"]),
    )
    db.query("DELETE FROM procrastinate_jobs")
    settings = make_settings(worker_heartbeat_seconds=0.2, stalled_worker_seconds=1)
    with TestClient(create_app(settings)):
        wait_for(lambda: fake_twilio.bodies_to("+573001112233"), timeout=20, what="the pending reply")
    assert fake_twilio.bodies_to("+573001112233") == ["Hola, ¿en qué te ayudo?"]
