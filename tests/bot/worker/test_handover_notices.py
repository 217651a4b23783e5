"""Hand-overs that always reach the advisor: text inside their 24 h window, the template outside.

WhatsApp takes free text from the advisor's Twilio number only within 24 hours of the advisor's
own last message to it (error 63016). The fake Twilio records whether a notice went as text or
as an approved template (`ContentSid` and its variables); without a template and outside the
window nothing is attempted, and that is shown, logged once and reported as an event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import Db, inbound_form, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeReceiver, FakeTwilio, Reply, echo_model

ADVISOR, ADVISOR_PHONE, CUSTOMER = "+14155238886", "+573005550001", "+573001112233"
GLOBAL_TEMPLATE = "HX" + "a" * 32
ANA_TEMPLATE = "HX" + "b" * 32
ADMIN = "admin-token-for-tests-0123456789"


def hand_over_on_person(messages: list[dict[str, Any]]) -> Reply:
    if messages[-1]["role"] == "tool":
        return {"content": "Te paso con Ana, ella te escribe."}
    if "persona" in str(messages[-1]["content"]):
        return {
            "tool_calls": [
                ("hand_over_to_advisor", {"reason": "quiere negociar el precio", "category": "negotiation"})
            ]
        }
    return echo_model(messages)


def _client(make_settings: Callable[..., Settings], **values: Any) -> TestClient:
    return TestClient(create_app(make_settings(**values)))


def _hand_over(
    client: TestClient, fake_openai: FakeOpenAI, text: str = "quiero hablar con una persona"
) -> None:
    fake_openai.behaviour = hand_over_on_person
    assert signed_post(client, inbound_form(ADVISOR, CUSTOMER, text)).status_code == 200


def _notice_row(db: Db) -> dict[str, Any]:
    rows = db.query(
        "SELECT status, body, template_variables, error_message FROM advisor_channel "
        "WHERE direction = 'outbound' ORDER BY id"
    )
    assert len(rows) == 1, rows
    return rows[0]


def test_outside_the_advisors_window_the_notice_goes_as_the_template_with_its_variables(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    advisor_id = db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE)  # Ana never wrote to her number
    db.add_customer(advisor_id, CUSTOMER, name="Valentina Ríos", labels=["envigado"])
    with _client(make_settings, notice_content_sid=GLOBAL_TEMPLATE, admin_token=ADMIN) as client:
        _hand_over(client, fake_openai, "si pago de contado me lo dejan mas barato? quiero una persona")
        notice = wait_for(
            lambda: [m for m in fake_twilio.sent if m.to == f"whatsapp:{ADVISOR_PHONE}"], what="the notice"
        )[0]
        wait_for(lambda: _notice_row(db)["status"] != "pending", what="the notice's outcome")
        conversation = db.conversation(advisor_id, CUSTOMER)
        assert conversation is not None
        shown = client.get(
            f"/api/conversations/{conversation['conversation_id']}",
            headers={"Authorization": f"Bearer {ADMIN}"},
        ).json()["handover"]
    assert shown["category"] == "negotiation" and shown["notice_status"] in ("accepted", "queued", "sent")
    assert shown["brief"]["wants"] == "quiere negociar el precio"
    assert shown["brief"]["ai_told"] == []  # nothing before the hand-over
    assert notice.content_sid == GLOBAL_TEMPLATE and notice.body == ""
    assert notice.content_variables == {
        "1": "Valentina Ríos",
        "2": CUSTOMER,
        "3": "negociación: quiere negociar el precio",
    }
    brief = db.query("SELECT category, brief, notice_id IS NOT NULL AS linked FROM handovers")[0]
    assert brief["category"] == "negotiation" and brief["linked"]
    assert brief["brief"]["customer_name"] == "Valentina Ríos"
    assert brief["brief"]["labels"] == ["envigado"]
    assert brief["brief"]["customer_said"] == "si pago de contado me lo dejan mas barato? quiero una persona"
    assert brief["brief"]["wants"] == "quiere negociar el precio"


def test_the_advisors_own_template_wins_and_inside_the_window_the_notice_is_text(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    settings = json.dumps({"notice_content_sid": ANA_TEMPLATE})
    ana = db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE, settings=settings)
    with _client(make_settings, notice_content_sid=GLOBAL_TEMPLATE) as client:
        _hand_over(client, fake_openai)
        first = wait_for(lambda: [m for m in fake_twilio.sent if m.to == f"whatsapp:{ADVISOR_PHONE}"])[0]
        assert first.content_sid == ANA_TEMPLATE  # hers, not the global one

        db.query("UPDATE chat_history SET ai_attention = true")
        db.advisor_wrote_today(ana)
        _hand_over(client, fake_openai, "otra vez, una persona por favor")
        notices = wait_for(lambda: [m for m in fake_twilio.sent if m.to == f"whatsapp:{ADVISOR_PHONE}"][1:])
    assert notices[0].content_sid is None
    assert notices[0].body.startswith(
        f"🔔 {CUSTOMER} necesita atención humana (negociación): quiere negociar"
    )
    assert "Último mensaje: «otra vez, una persona por favor»" in notices[0].body


def test_notice_template_always_sends_the_template_even_inside_the_window(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.advisor_wrote_today(db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE))
    with _client(make_settings, notice_content_sid=GLOBAL_TEMPLATE, notice_template_always=True) as client:
        _hand_over(client, fake_openai)
        notice = wait_for(lambda: [m for m in fake_twilio.sent if m.to == f"whatsapp:{ADVISOR_PHONE}"])[0]
    assert notice.content_sid == GLOBAL_TEMPLATE


def test_without_a_template_outside_the_window_the_notice_is_not_attempted_but_seen_logged_once_and_reported(
    make_settings: Callable[..., Settings],
    db: Db,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    receiver: FakeReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE)
    caplog.set_level(logging.WARNING, logger="bot.worker.notices")
    with _client(make_settings, event_webhook_urls=receiver.url, event_webhook_secret="s" * 20) as client:
        _hand_over(client, fake_openai)
        wait_for(
            lambda: any(e["type"] == "notice.undeliverable" for e in receiver.accepted()), what="the event"
        )
        db.query("UPDATE chat_history SET ai_attention = true")
        _hand_over(client, fake_openai, "de nuevo: una persona")
        wait_for(
            lambda: len([e for e in receiver.accepted() if e["type"] == "notice.undeliverable"]) == 2,
            what="the second event",
        )
    assert [m for m in fake_twilio.sent if m.to == f"whatsapp:{ADVISOR_PHONE}"] == []  # never attempted
    statuses = db.query("SELECT status, error_message FROM advisor_channel WHERE direction = 'outbound'")
    assert [row["status"] for row in statuses] == ["undeliverable", "undeliverable"]
    event = next(e for e in receiver.accepted() if e["type"] == "notice.undeliverable")
    assert "NOTICE_CONTENT_SID" in event["data"]["configure"] and event["data"]["handover_id"] is not None
    told = [r for r in caplog.records if "NOTICE_CONTENT_SID" in r.getMessage()]
    assert len(told) == 1  # once per advisor, not once per hand-over


def test_a_transient_twilio_error_on_the_notice_is_retried(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE)
    fake_twilio.failures_to[f"whatsapp:{ADVISOR_PHONE}"] = [(503, 20500)]  # the notice's first attempt
    with _client(make_settings, notice_content_sid=GLOBAL_TEMPLATE, job_retry_base_seconds=0) as client:
        _hand_over(client, fake_openai)
        notice = wait_for(
            lambda: [m for m in fake_twilio.sent if m.to == f"whatsapp:{ADVISOR_PHONE}"],
            timeout=30,
            what="the notice after the retry",
        )[0]
    assert notice.content_sid == GLOBAL_TEMPLATE
    assert fake_twilio.failures_to[f"whatsapp:{ADVISOR_PHONE}"] == []  # the refusal was met, then retried
    wait_for(lambda: _notice_row(db)["status"] != "pending", what="the notice's outcome")
    assert _notice_row(db)["status"] in ("accepted", "queued", "sent")


def test_one_customers_briefs_with_two_advisors_each_hold_only_that_advisors_conversation(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    ana = db.add_advisor("Ana", ADVISOR, phone=ADVISOR_PHONE)
    luis = db.add_advisor("Luis", "+14155238887", phone="+573005550002")
    db.add_customer(ana, CUSTOMER, name="Valentina", labels=["envigado"], days_silent=0)
    db.add_customer(luis, CUSTOMER, name="Vale R.", labels=["sabaneta"], days_silent=0)
    with _client(make_settings, notice_content_sid=GLOBAL_TEMPLATE, admin_token=ADMIN) as client:
        _hand_over(client, fake_openai, "persona, el de Envigado con balcón")
        fake_openai.behaviour = hand_over_on_person
        form = inbound_form("+14155238887", CUSTOMER, "persona, el de Sabaneta sin balcón")
        assert signed_post(client, form).status_code == 200
        wait_for(lambda: len(db.query("SELECT 1 FROM handovers")) == 2, what="both hand-overs")
        shown = {
            advisor: client.get(
                f"/api/conversations/{db.conversation(advisor, CUSTOMER)['conversation_id']}",  # type: ignore[index]
                headers={"Authorization": f"Bearer {ADMIN}"},
            ).json()["handover"]["brief"]
            for advisor in (ana, luis)
        }
        wait_for(lambda: len([m for m in fake_twilio.sent if m.content_sid]) == 2, what="both notices")
        notices = [m for m in fake_twilio.sent if m.content_sid]
    assert shown[ana]["customer_said"] == "persona, el de Envigado con balcón"
    assert shown[ana]["customer_name"] == "Valentina" and shown[ana]["labels"] == ["envigado"]
    assert shown[luis]["customer_said"] == "persona, el de Sabaneta sin balcón"
    assert shown[luis]["customer_name"] == "Vale R." and shown[luis]["labels"] == ["sabaneta"]
    by_advisor = {m.to: m.content_variables for m in notices}
    assert by_advisor[f"whatsapp:{ADVISOR_PHONE}"]["1"] == "Valentina"  # type: ignore[index]
    assert by_advisor["whatsapp:+573005550002"]["1"] == "Vale R."  # type: ignore[index]
