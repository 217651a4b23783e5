"""Delivery status callbacks: signature-checked, scoped to the sending advisor, never backwards."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import ACCOUNT_SID, Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio

PUBLIC = "https://bot.example.com"
ANA, BRUNO, CUSTOMER = "+14155238886", "+14155238887", "+573001112233"


def _status_form(
    sid: str, status: str, *, sender: str = ANA, error_code: str | None = None
) -> dict[str, str]:
    form = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "ChannelPrefix": "whatsapp",
        "From": f"whatsapp:{sender}",
        "To": f"whatsapp:{CUSTOMER}",
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
    }
    if error_code:
        form["ErrorCode"] = error_code
    return form


def _post_status(client: TestClient, form: dict[str, str]) -> int:
    return int(signed_post(client, form, path="/webhooks/twilio/status", base_url=PUBLIC).status_code)


def test_statuses_arrive_out_of_order_and_never_move_backwards(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio
) -> None:
    db.add_advisor("Ana", ANA)
    db.add_advisor("Bruno", BRUNO)
    with TestClient(create_app(make_settings(public_base_url=PUBLIC))) as client:
        assert signed_post(client, inbound_form(ANA, CUSTOMER, "Hola"), base_url=PUBLIC).status_code == 200
        wait_for(lambda: fake_twilio.sent, what="the reply")
        settle(db)
        sent = fake_twilio.sent[0]
        assert sent.status_callback == f"{PUBLIC}/webhooks/twilio/status"

        def status() -> str:
            return str(
                db.query("SELECT status FROM messages WHERE twilio_sid = %s", (sent.sid,))[0]["status"]
            )

        assert status() == "queued"
        assert _post_status(client, _status_form(sent.sid, "delivered")) == 200
        assert status() == "delivered"
        assert _post_status(client, _status_form(sent.sid, "read")) == 200
        assert _post_status(client, _status_form(sent.sid, "sent")) == 200  # late
        assert _post_status(client, _status_form(sent.sid, "delivered")) == 200  # twice
        assert status() == "read"
        # Another advisor's number cannot touch Ana's message.
        assert _post_status(client, _status_form(sent.sid, "failed", sender=BRUNO, error_code="63016")) == 200
        assert status() == "read"
        # Unknown statuses and unknown SIDs are acknowledged and change nothing.
        assert _post_status(client, _status_form(sent.sid, "teleported")) == 200
        assert _post_status(client, _status_form("SM" + "0" * 32, "read")) == 200
        assert status() == "read"
        unsigned = client.post("/webhooks/twilio/status", data=_status_form(sent.sid, "failed"))
        assert unsigned.status_code == 403
        assert status() == "read"


def test_a_failure_report_keeps_its_error_code(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio
) -> None:
    db.add_advisor("Ana", ANA)
    with TestClient(create_app(make_settings(public_base_url=PUBLIC))) as client:
        signed_post(client, inbound_form(ANA, CUSTOMER, "Hola"), base_url=PUBLIC)
        wait_for(lambda: fake_twilio.sent)
        settle(db)
        sid = fake_twilio.sent[0].sid
        assert _post_status(client, _status_form(sid, "sent")) == 200
        assert _post_status(client, _status_form(sid, "failed", error_code="63016")) == 200
        missing = signed_post(client, {"MessageSid": sid}, path="/webhooks/twilio/status", base_url=PUBLIC)
        assert missing.status_code == 400
    row = db.query("SELECT status, error_code FROM messages WHERE twilio_sid = %s", (sid,))[0]
    assert row == {"status": "failed", "error_code": "63016"}


def test_shared_status_samples_are_understood(
    make_settings: Callable[..., Settings],
    db: Db,
    fake_twilio: FakeTwilio,
    shared_samples: dict[str, dict[str, str]],
) -> None:
    db.add_advisor("Ana", ANA)
    with TestClient(create_app(make_settings(public_base_url=PUBLIC))) as client:
        signed_post(client, inbound_form(ANA, CUSTOMER, "Hola"), base_url=PUBLIC)
        wait_for(lambda: fake_twilio.sent)
        settle(db)
        sid = fake_twilio.sent[0].sid
        for name in ("status-delivered", "status-read"):
            sample = {**shared_samples[name], "MessageSid": sid, "SmsSid": sid}
            assert _post_status(client, sample) == 200
    assert db.query("SELECT status FROM messages WHERE twilio_sid = %s", (sid,))[0]["status"] == "read"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("ErrorCode", "630\x0016", "'ErrorCode' contains a NUL character"),
        ("MessageSid", "SM\x00abc", "'MessageSid' contains a NUL character"),
        ("MessageSid", "SM" + "x" * 60_000, "exceeds"),
        ("MessageSid", "SM" + "x" * 100, "MessageSid is too long"),
    ],
)
def test_crafted_status_fields_get_400_like_inbound_ones(
    make_settings: Callable[..., Settings], db: Db, field: str, value: str, reason: str
) -> None:
    db.add_advisor("Ana", ANA)
    settings = make_settings(public_base_url=PUBLIC, max_webhook_bytes=256 * 1024)
    with TestClient(create_app(settings)) as client:
        form = {**_status_form("SM" + "1" * 32, "failed"), field: value}
        answer = signed_post(client, form, path="/webhooks/twilio/status", base_url=PUBLIC)
    assert answer.status_code == 400
    assert reason in answer.text


def test_a_status_that_arrives_before_the_worker_stored_the_sid_is_applied_when_it_is(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio
) -> None:
    """Found by the audit: Twilio called back while the worker still awaited its answer; lost."""
    db.add_advisor("Ana", ANA)
    fake_twilio.stall_next, fake_twilio.stall_seconds = 1, 1.5  # the answer to the send comes late
    with TestClient(create_app(make_settings(public_base_url=PUBLIC))) as client:
        assert signed_post(client, inbound_form(ANA, CUSTOMER, "Hola"), base_url=PUBLIC).status_code == 200
        wait_for(lambda: fake_twilio.sent, what="the send to reach Twilio")
        sid = fake_twilio.sent[0].sid
        assert db.query("SELECT 1 FROM messages WHERE twilio_sid = %s", (sid,)) == []  # not stored yet
        assert _post_status(client, _status_form(sid, "delivered")) == 200
        wait_for(
            lambda: db.query("SELECT status FROM messages WHERE twilio_sid = %s", (sid,)),
            what="the worker to store Twilio's answer",
        )
        settle(db)
    assert db.query("SELECT status FROM messages WHERE twilio_sid = %s", (sid,)) == [{"status": "delivered"}]
    assert db.count("early_delivery_statuses") == 0  # applied, so not kept


# 3,000 characters: two WhatsApp messages.
TWO_PART_ANSWER = ("Este apartamento tiene dos habitaciones y una vista preciosa. " * 60)[:3000].rstrip()


def test_the_next_part_of_a_reply_waits_for_the_previous_one_to_be_reported_sent(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    """Found by the audit: parts sent back to back could reach the customer swapped."""
    fake_openai.behaviour = lambda messages: {"content": TWO_PART_ANSWER}
    db.add_advisor("Ana", ANA)
    settings = make_settings(public_base_url=PUBLIC, part_delivery_wait_seconds=30)
    with TestClient(create_app(settings)) as client:
        assert (
            signed_post(client, inbound_form(ANA, CUSTOMER, "Cuéntame todo"), base_url=PUBLIC).status_code
            == 200
        )
        wait_for(lambda: fake_twilio.sent, what="the first part")
        time.sleep(1.0)  # Twilio has accepted it; no report yet
        assert len(fake_twilio.sent) == 1  # the second part waits
        assert _post_status(client, _status_form(fake_twilio.sent[0].sid, "sent")) == 200
        wait_for(lambda: len(fake_twilio.sent) == 2, what="the second part, once the first left")
        settle(db)
    assert [row["part"] for row in db.outbound()] == [1, 2]


def test_without_a_report_the_next_part_goes_after_the_bounded_wait(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour = lambda messages: {"content": TWO_PART_ANSWER}
    db.add_advisor("Ana", ANA)
    settings = make_settings(public_base_url=PUBLIC, part_delivery_wait_seconds=0.5)
    with TestClient(create_app(settings)) as client:
        signed_post(client, inbound_form(ANA, CUSTOMER, "Cuéntame todo"), base_url=PUBLIC)
        wait_for(lambda: len(fake_twilio.sent) == 2, what="both parts, the report never came")
    assert fake_twilio.sent[0].body.startswith("Este") and fake_twilio.sent[0].sid != fake_twilio.sent[1].sid
