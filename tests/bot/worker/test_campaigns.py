"""Re-engagement campaigns: a template to a filtered list, consent checked at send time, sends recorded."""

from __future__ import annotations

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
