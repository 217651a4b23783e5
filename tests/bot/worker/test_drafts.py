"""Draft mode: the AI writes the reply, a person approves, edits or rejects it.

Driven as Twilio and an advisor would: signed webhooks in, the API and the advisor's own phone
(`#borrador`, `#ok`) for the decisions; the fake Twilio shows what reached the customer and the
fake model's requests show what the AI remembers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.cli import main
from bot.settings import Settings
from tests.conftest import Db, inbound_form, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio, Reply

ANA_NUMBER, ANA_PHONE = "+14155238886", "+573005550001"
LUIS_NUMBER, LUIS_PHONE = "+14155238887", "+573005550002"
CUSTOMER = "+573001112233"
ADMIN = "admin-token-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
DRAFT_MODE = json.dumps({"ai_mode": "draft"})


def numbered_answers() -> Callable[[list[dict[str, Any]]], Reply]:
    """Answers that say which turn they are, so each draft is told apart."""
    count = {"n": 0}

    def answer(messages: list[dict[str, Any]]) -> Reply:
        count["n"] += 1
        return {"content": f"Borrador número {count['n']}: sí, hay apartamentos disponibles."}

    return answer


def _client(make_settings: Callable[..., Settings], **values: Any) -> TestClient:
    return TestClient(create_app(make_settings(admin_token=ADMIN, **values)))


def _write(client: TestClient, text: str, *, to: str = ANA_NUMBER, sender: str = CUSTOMER) -> None:
    assert signed_post(client, inbound_form(to, sender, text)).status_code == 200


def _to_customer(fake_twilio: FakeTwilio) -> list[str]:
    return [m.body for m in fake_twilio.sent if m.to == f"whatsapp:{CUSTOMER}"]


def _drafts(db: Db, advisor_id: str) -> list[dict[str, Any]]:
    return db.query("SELECT * FROM drafts WHERE advisor_id = %s ORDER BY id", (advisor_id,))


def _conversation_id(db: Db, advisor_id: str) -> str:
    found = db.conversation(advisor_id, CUSTOMER)
    assert found is not None
    return str(found["conversation_id"])


def _seen_by_model(fake_openai: FakeOpenAI) -> str:
    """Everything the model was sent in its latest request."""
    return json.dumps(fake_openai.requests[-1]["messages"], ensure_ascii=False)


def test_a_draft_is_never_sent_nor_remembered_until_approved_and_an_edit_is_remembered_as_sent(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    ana = db.add_advisor("Ana", ANA_NUMBER, phone=ANA_PHONE, settings=DRAFT_MODE)
    db.advisor_wrote_today(ana)
    fake_openai.behaviour = numbered_answers()
    with _client(make_settings) as client:
        _write(client, "¿Tienen apartamentos en Envigado?")
        first = wait_for(lambda: _drafts(db, ana), what="the first draft")[0]
        conversation = _conversation_id(db, ana)
        # The advisor's phone gets it, with how to send it; the customer gets nothing.
        notice = wait_for(lambda: [m for m in fake_twilio.sent if m.to == f"whatsapp:{ANA_PHONE}"])[0]
        assert "Borrador número 1" in notice.body and f"#ok {CUSTOMER}" in notice.body
        assert _to_customer(fake_twilio) == []
        listed = client.get(f"/api/conversations/{conversation}/drafts", headers=AUTH).json()
        assert listed["ai_mode"] == "draft" and [d["status"] for d in listed["items"]] == ["pending"]
        assert db.query("SELECT status FROM messages WHERE direction = 'inbound'")[0]["status"] == "drafted"

        rejected = client.post(f"/api/conversations/{conversation}/drafts/{first['id']}/reject", headers=AUTH)
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
        again = client.post(f"/api/conversations/{conversation}/drafts/{first['id']}/approve", headers=AUTH)
        assert again.status_code == 409 and "rejected" in again.json()["detail"]

        _write(client, "¿Y de dos habitaciones?")
        second = wait_for(lambda: _drafts(db, ana)[1:], what="the second draft")[0]
        assert "Borrador número 1" not in _seen_by_model(fake_openai)  # a rejected draft is forgotten
        edited = "Sí, tenemos de dos habitaciones en Envigado. ¿Cuándo quieres visitarlos?"
        approved = client.post(
            f"/api/conversations/{conversation}/drafts/{second['id']}/approve",
            headers=AUTH,
            json={"body": edited},
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "edited" and approved.json()["sent_body"] == edited
        wait_for(lambda: _to_customer(fake_twilio), what="the edited draft sent")
        assert _to_customer(fake_twilio) == [edited]

        _write(client, "El sábado puedo")
        wait_for(lambda: _drafts(db, ana)[2:], what="the third draft")
        seen = _seen_by_model(fake_openai)
    assert edited in seen and "Borrador número 2" not in seen  # remembered as sent, as the AI's turn
    sent = db.query("SELECT author, body, payload FROM messages WHERE direction = 'outbound'")
    assert sent == [{"author": "ai", "body": edited, "payload": {"draft_id": second["id"]}}]


def test_a_newer_customer_message_supersedes_the_draft_and_approving_it_is_refused(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    ana = db.add_advisor("Ana", ANA_NUMBER, phone=ANA_PHONE, settings=DRAFT_MODE)
    fake_openai.behaviour = numbered_answers()
    with _client(make_settings) as client:
        _write(client, "Hola, ¿precio?")
        first = wait_for(lambda: _drafts(db, ana), what="the first draft")[0]
        _write(client, "Perdón, del de tres habitaciones")
        wait_for(lambda: _drafts(db, ana)[1:], what="the draft of the newer message")
        conversation = _conversation_id(db, ana)
        refused = client.post(f"/api/conversations/{conversation}/drafts/{first['id']}/approve", headers=AUTH)
        statuses = [d["status"] for d in _drafts(db, ana)]
    assert refused.status_code == 409 and "superseded" in refused.json()["detail"]
    assert statuses == ["superseded", "pending"]
    assert _to_customer(fake_twilio) == []


def test_ok_from_the_advisors_phone_sends_the_newest_draft_and_borrador_auto_switch_the_mode(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    ana = db.add_advisor("Ana", ANA_NUMBER, phone=ANA_PHONE)  # auto by default
    db.add_customer(ana, CUSTOMER, name="Valentina", labels=[], days_silent=0)
    fake_openai.behaviour = numbered_answers()
    with _client(make_settings) as client:
        response = signed_post(client, inbound_form(ANA_NUMBER, ANA_PHONE, f"#borrador {CUSTOMER}"))
        assert "borradores" in response.text
        assert db.conversation(ana, CUSTOMER)["ai_mode"] == "draft"  # type: ignore[index]
        nothing = signed_post(client, inbound_form(ANA_NUMBER, ANA_PHONE, "#ok"))
        assert "No hay ningún borrador" in nothing.text

        _write(client, "¿Hacen visitas los domingos?")
        wait_for(lambda: _drafts(db, ana), what="the draft")
        ok = signed_post(client, inbound_form(ANA_NUMBER, ANA_PHONE, "#ok"))
        assert "Enviando" in ok.text
        wait_for(lambda: _to_customer(fake_twilio), what="the approved draft")
        assert _drafts(db, ana)[0]["status"] == "approved" and _drafts(db, ana)[0]["decided_by"] == "whatsapp"

        signed_post(client, inbound_form(ANA_NUMBER, ANA_PHONE, f"#auto {CUSTOMER}"))
        _write(client, "Perfecto, gracias")
        wait_for(lambda: _to_customer(fake_twilio)[1:], what="the AI's own reply in auto mode")
    assert len(_drafts(db, ana)) == 1
    assert _to_customer(fake_twilio) == [
        "Borrador número 1: sí, hay apartamentos disponibles.",
        "Borrador número 2: sí, hay apartamentos disponibles.",
    ]


def test_a_draft_left_waiting_becomes_a_hand_over_whose_brief_carries_it(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    ana = db.add_advisor("Ana", ANA_NUMBER, phone=ANA_PHONE, settings=DRAFT_MODE)
    db.advisor_wrote_today(ana)
    fake_openai.behaviour = numbered_answers()
    with _client(make_settings, draft_timeout_minutes=0.02) as client:  # 1.2 s
        _write(client, "¿Aceptan mascotas?")
        wait_for(lambda: [d for d in _drafts(db, ana) if d["status"] == "timed_out"], what="the timeout")
        handover = wait_for(lambda: db.query("SELECT category, brief FROM handovers"), what="the hand-over")[
            0
        ]
        notices = wait_for(
            lambda: [m.body for m in fake_twilio.sent if m.to == f"whatsapp:{ANA_PHONE}"][1:], what="notice"
        )
        detail = client.get(f"/api/conversations/{_conversation_id(db, ana)}", headers=AUTH).json()
    assert handover["category"] == "customer_request"
    assert handover["brief"]["waiting_draft"] == "Borrador número 1: sí, hay apartamentos disponibles."
    assert "esperó" in handover["brief"]["wants"]
    assert "Borrador sin aprobar" in notices[0]
    assert detail["ai_attention"] is False and detail["waiting"] is True
    assert _to_customer(fake_twilio) == []


def test_the_api_switches_one_conversations_mode_and_auto_replies_caught_unsent_wait_as_a_draft(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    ana = db.add_advisor("Ana", ANA_NUMBER, phone=ANA_PHONE)
    fake_openai.behaviour = numbered_answers()
    fake_twilio.failures_to[f"whatsapp:{CUSTOMER}"] = [(503, 20500)]  # the first send is retried later
    with _client(make_settings, job_retry_base_seconds=2) as client:
        _write(client, "Hola")
        wait_for(lambda: fake_twilio.attempts >= 1, what="the first, failed, send")
        conversation = _conversation_id(db, ana)
        patched = client.patch(f"/api/conversations/{conversation}", headers=AUTH, json={"ai_mode": "draft"})
        assert patched.status_code == 200 and patched.json()["ai_mode"] == "draft"
        kept = wait_for(lambda: _drafts(db, ana), what="the reply kept as a draft", timeout=30)[0]
        reset = client.patch(f"/api/conversations/{conversation}", headers=AUTH, json={"ai_mode": None})
        bad = client.patch(f"/api/conversations/{conversation}", headers=AUTH, json={"ai_mode": "sometimes"})
    assert (
        kept["body"] == "Borrador número 1: sí, hay apartamentos disponibles." and kept["status"] == "pending"
    )
    cancelled = db.query("SELECT status, error_message FROM messages WHERE direction = 'outbound'")
    assert cancelled[0]["status"] == "cancelled" and "draft mode" in cancelled[0]["error_message"]
    assert _to_customer(fake_twilio) == []
    assert reset.json()["ai_mode"] is None and bad.status_code == 422


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_one_advisors_drafts_cannot_be_seen_or_decided_by_another(
    action: str,
    make_settings: Callable[..., Settings],
    db: Db,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ana = db.add_advisor("Ana", ANA_NUMBER, phone=ANA_PHONE, settings=DRAFT_MODE)
    luis = db.add_advisor("Luis", LUIS_NUMBER, phone=LUIS_PHONE, settings=DRAFT_MODE)
    fake_openai.behaviour = numbered_answers()
    with _client(make_settings) as client:
        monkeypatch.setenv("DATABASE_URL", db.url)
        assert main(["advisors", "token", luis]) == 0
        as_luis = {"Authorization": f"Bearer {capsys.readouterr().out.strip().splitlines()[-1]}"}
        _write(client, "Hola Ana")
        _write(client, "Hola Luis", to=LUIS_NUMBER)
        ana_draft = wait_for(lambda: _drafts(db, ana), what="Ana's draft")[0]
        wait_for(lambda: _drafts(db, luis), what="Luis's draft")
        ana_conversation = _conversation_id(db, ana)
        seen = client.get(f"/api/conversations/{ana_conversation}/drafts", headers=as_luis)
        decided = client.post(
            f"/api/conversations/{ana_conversation}/drafts/{ana_draft['id']}/{action}", headers=as_luis
        )
        luis_conversation = _conversation_id(db, luis)
        crossed = client.post(
            f"/api/conversations/{luis_conversation}/drafts/{ana_draft['id']}/{action}", headers=as_luis
        )
        ok = signed_post(client, inbound_form(LUIS_NUMBER, LUIS_PHONE, "#ok"))
        wait_for(lambda: _to_customer(fake_twilio), what="Luis's draft sent")
    assert seen.status_code == 404 and decided.status_code == 404 and crossed.status_code == 404
    assert "Enviando" in ok.text
    assert _drafts(db, ana)[0]["status"] == "pending"  # Luis's #ok sent his own, never Ana's
    assert [m.from_ for m in fake_twilio.sent if m.to == f"whatsapp:{CUSTOMER}"] == [
        f"whatsapp:{LUIS_NUMBER}"
    ]
