"""Re-engagement campaigns: a template to a filtered list, consent checked at send time, sends recorded."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.bot.web.api.conftest import ADMIN_TOKEN, advisor_bearer, bearer
from tests.conftest import Db, settle, wait_for
from tests.fakes import FakeTwilio

ANA, BRUNO = "+14155238886", "+14155238887"
TEMPLATE = "HX" + "b" * 32


def test_a_campaign_sends_the_template_to_those_who_consented_and_counts_the_rest(
    make_settings: Callable[..., Settings],
    db: Db,
    fake_twilio: FakeTwilio,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    bruno = db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    reachable = {
        "+573001000001": "Camila",
        "+573001000002": "Andrés",
        "+573001000003": "Julián",
    }
    for phone, name in reachable.items():
        db.add_customer(ana, phone, name=name, labels=["vip"], consent=True, days_silent=120)
    db.add_customer(
        ana, "+573001000004", name="Sofía", labels=["vip"], consent=True, opted_out=True, days_silent=120
    )
    db.add_customer(ana, "+573001000005", name="Mateo", labels=["vip"], days_silent=120)
    db.add_customer(ana, "+573001000006", name="Lucía", labels=["casa"], consent=True, days_silent=120)
    db.add_customer(bruno, "+573001000007", name="Pedro", labels=["vip"], consent=True, days_silent=120)
    fake_twilio.failures = [(400, 63016)]  # Twilio refuses the first send
    settings = make_settings(admin_token=ADMIN_TOKEN, campaign_rate_per_second=50)
    with TestClient(create_app(settings)) as client:
        as_ana = advisor_bearer(db, ANA, monkeypatch, capsys)
        started = client.post(
            "/api/campaigns",
            headers=as_ana,
            json={"content_sid": TEMPLATE, "variables": {"1": "name"}, "filters": {"labels_any": ["vip"]}},
        )
        assert started.status_code == 202, started.text
        campaign = started.json()
        assert (
            campaign["recipients"] == 5 and campaign["pending"] == 5
        )  # Lucía has no vip label; Pedro is Bruno's
        wait_for(
            lambda: (
                client.get(f"/api/campaigns/{campaign['id']}", headers=as_ana).json()["status"] == "finished"
            ),
            timeout=30,
            what="the campaign to finish",
        )
        settle(db)
        done = client.get(f"/api/campaigns/{campaign['id']}", headers=as_ana).json()
        assert (done["sent"], done["skipped"], done["failed"]) == (2, 2, 1)
        assert done["skipped_reasons"] == {"opted_out": 1, "no_consent": 1}
        # Bruno cannot see Ana's campaign; an advisor cannot send for another.
        as_bruno = advisor_bearer(db, BRUNO, monkeypatch, capsys)
        assert client.get(f"/api/campaigns/{campaign['id']}", headers=as_bruno).status_code == 404
        foreign = {"content_sid": TEMPLATE, "advisor_id": ana}
        assert client.post("/api/campaigns", headers=as_bruno, json=foreign).status_code == 403
        unknown = {"content_sid": TEMPLATE, "variables": {"1": "password"}}
        assert client.post("/api/campaigns", headers=as_ana, json=unknown).status_code == 422
        assert (
            client.post(
                "/api/campaigns", headers=bearer(ADMIN_TOKEN), json={"content_sid": TEMPLATE}
            ).status_code
            == 422
        )
    sends = [m for m in fake_twilio.sent if m.content_sid == TEMPLATE]
    assert len(sends) == 2 and all(m.from_ == f"whatsapp:{ANA}" for m in sends)
    assert all(m.content_variables == {"1": reachable[m.to.removeprefix("whatsapp:")]} for m in sends)
    recorded = db.query(
        "SELECT status, error_code, payload->>'campaign_id' AS campaign FROM messages"
        " WHERE direction = 'outbound'"
    )
    assert len(recorded) == 3 and {r["campaign"] for r in recorded} == {str(campaign["id"])}
    assert sorted(r["error_code"] or "" for r in recorded) == ["", "", "63016"]
    failed = db.query("SELECT reason FROM campaign_recipients WHERE status = 'failed'")
    assert failed == [{"reason": "twilio 63016"}]


def test_a_deactivation_stops_a_campaign_at_its_next_send(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio
) -> None:
    """Issue 23, finding 8: 4 templates went out more than 0.5 s after `advisors deactivate`."""
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    for n in range(30):
        db.add_customer(
            ana, f"+5730010001{n:02d}", name=f"C{n}", labels=["vip"], consent=True, days_silent=120
        )
    settings = make_settings(admin_token=ADMIN_TOKEN, campaign_rate_per_second=10)
    with TestClient(create_app(settings)) as client:
        started = client.post(
            "/api/campaigns",
            headers=bearer(ADMIN_TOKEN),
            json={"content_sid": TEMPLATE, "filters": {"labels_any": ["vip"]}, "advisor_id": ana},
        )
        assert started.status_code == 202
        campaign = started.json()["id"]
        wait_for(lambda: len(fake_twilio.sent) >= 3, what="the first sends")
        db.query("UPDATE advisors SET is_active = false WHERE id = %s", (ana,))
        deactivated_at = time.time()
        wait_for(
            lambda: (
                db.query("SELECT status FROM campaigns WHERE id = %s", (campaign,))[0]["status"] == "held"
            ),
            what="the campaign to be held",
        )
        settle(db)
        late = [m for m in fake_twilio.sent if m.accepted_at > deactivated_at + 0.5]
        assert late == []
        held = db.query("SELECT held_reason FROM campaigns WHERE id = %s", (campaign,))[0]
        assert held["held_reason"] == "advisor_inactive"
        pending = db.query(
            "SELECT count(*) AS n FROM campaign_recipients WHERE campaign_id = %s AND status = 'pending'",
            (campaign,),
        )[0]["n"]
        assert pending > 0  # the rest waits, it is not lost


def test_identical_campaigns_in_a_row_reach_a_customer_once_and_are_capped_per_day(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio
) -> None:
    """Issue 23, finding 8: five identical campaigns once sent one customer the template 5 times."""
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    customer = "+573001000001"
    db.add_customer(ana, customer, name="Camila", labels=["vip"], consent=True, days_silent=120)
    settings = make_settings(
        admin_token=ADMIN_TOKEN, campaign_rate_per_second=50, campaigns_per_advisor_per_day=5
    )
    body = {"content_sid": TEMPLATE, "filters": {"labels_any": ["vip"]}, "advisor_id": ana}
    with TestClient(create_app(settings)) as client:
        ids = []
        for _ in range(5):
            started = client.post("/api/campaigns", headers=bearer(ADMIN_TOKEN), json=body)
            assert started.status_code == 202
            ids.append(started.json()["id"])
        sixth = client.post("/api/campaigns", headers=bearer(ADMIN_TOKEN), json=body)
        assert sixth.status_code == 429 and "CAMPAIGNS_PER_ADVISOR_PER_DAY" in sixth.json()["detail"]
        wait_for(
            lambda: all(
                client.get(f"/api/campaigns/{i}", headers=bearer(ADMIN_TOKEN)).json()["status"] == "finished"
                for i in ids
            ),
            timeout=30,
            what="the campaigns to finish",
        )
        settle(db)
        skipped = [client.get(f"/api/campaigns/{i}", headers=bearer(ADMIN_TOKEN)).json() for i in ids]
    assert len([m for m in fake_twilio.sent if m.to == f"whatsapp:{customer}"]) == 1
    assert sorted(c["sent"] for c in skipped) == [0, 0, 0, 0, 1]
    assert sum(c["skipped_reasons"].get("recently_sent", 0) for c in skipped) == 4


def test_a_manual_reply_retried_after_a_deactivation_is_not_sent(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio
) -> None:
    """Issue 23, finding 8: the same check holds for a manual reply that Twilio made wait."""
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    conversation = db.add_customer(ana, "+573001000001", name="Camila", labels=[], consent=True)
    db.query("UPDATE chat_history SET last_inbound_at = now() WHERE conversation_id = %s", (conversation,))
    fake_twilio.failures = [(503, 20500)]  # the first attempt meets a Twilio outage
    settings = make_settings(admin_token=ADMIN_TOKEN, job_retry_base_seconds=2)
    with TestClient(create_app(settings)) as client:
        queued = client.post(
            f"/api/conversations/{conversation}/messages",
            headers=bearer(ADMIN_TOKEN),
            json={"text": "Hola Camila"},
        )
        assert queued.status_code in (200, 201, 202), queued.text
        wait_for(lambda: not fake_twilio.failures, what="the first, failed attempt")
        db.query("UPDATE advisors SET is_active = false WHERE id = %s", (ana,))
        wait_for(
            lambda: db.query("SELECT status FROM messages WHERE author = 'advisor'")[0]["status"] == "failed",
            timeout=20,
            what="the retried reply to be refused",
        )
        reply = db.query("SELECT error_message FROM messages WHERE author = 'advisor'")[0]
    assert reply["error_message"] == "not sent: the advisor was deactivated"
    assert fake_twilio.sent == []
