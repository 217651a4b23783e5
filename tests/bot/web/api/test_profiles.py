"""Customer profiles through the API: one per advisor + customer, edited field by field, isolated."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.bot.web.api.conftest import ADMIN_TOKEN, advisor_bearer, bearer
from tests.conftest import Db, inbound_form, settle, signed_post

ANA, BRUNO, CUSTOMER = "+14155238886", "+14155238887", "+573001112233"


def _conversation(db: Db, advisor_id: str, phone: str = CUSTOMER) -> str:
    row = db.conversation(advisor_id, phone)
    assert row is not None
    return str(row["conversation_id"])


def test_a_profile_starts_from_what_whatsapp_says_and_keeps_what_it_is_told(
    admin_api: TestClient, db: Db
) -> None:
    ana = db.add_advisor("Ana", ANA)
    assert signed_post(admin_api, inbound_form(ANA, CUSTOMER, "hola", ProfileName="Cami")).status_code == 200
    settle(db)
    admin = bearer(ADMIN_TOKEN)
    url = f"/api/conversations/{_conversation(db, ana)}/profile"
    fresh = admin_api.get(url, headers=admin).json()
    assert fresh["name"] == "Cami" and fresh["stage"] == "new" and fresh["labels"] == []
    assert fresh["first_interaction_at"] and fresh["last_interaction_at"] and fresh["updated_at"] is None
    changed = admin_api.patch(
        url,
        headers=admin,
        json={
            "name": "Camila Restrepo",
            "labels": ["vip", "plan familiar", "vip"],
            "data": {"ciudad": "Cali"},
        },
    ).json()
    assert changed["name"] == "Camila Restrepo" and changed["labels"] == ["vip", "plan familiar"]
    again = admin_api.patch(url, headers=admin, json={"data": {"hijos": 2}, "stage": "interested"}).json()
    assert again["data"] == {"ciudad": "Cali", "hijos": 2} and again["stage"] == "interested"
    assert again["name"] == "Camila Restrepo" and again["labels"] == ["vip", "plan familiar"]
    # A new message with another WhatsApp name does not overwrite the name the customer gave.
    assert signed_post(admin_api, inbound_form(ANA, CUSTOMER, "otra vez", ProfileName="C")).status_code == 200
    assert admin_api.get(url, headers=admin).json()["name"] == "Camila Restrepo"


def test_bad_fields_are_refused_and_nothing_changes(admin_api: TestClient, db: Db) -> None:
    ana = db.add_advisor("Ana", ANA)
    signed_post(admin_api, inbound_form(ANA, CUSTOMER, "hola"))
    admin = bearer(ADMIN_TOKEN)
    url = f"/api/conversations/{_conversation(db, ana)}/profile"
    for body in (
        {},
        {"stage": "vip"},
        {"labels": "vip"},
        {"name": "a\x00b"},
        {"phone_number": "+1"},
        {"name": ""},
    ):
        assert admin_api.patch(url, headers=admin, json=body).status_code == 422, body
    assert db.count("customer_profiles") == 0


def test_the_same_customer_has_one_profile_per_advisor_and_no_advisor_reaches_anothers(
    admin_api: TestClient, db: Db, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    bruno = db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    for advisor in (ANA, BRUNO):
        assert (
            signed_post(admin_api, inbound_form(advisor, CUSTOMER, "hola", ProfileName="Cami")).status_code
            == 200
        )
    as_ana, as_bruno = (
        advisor_bearer(db, ANA, monkeypatch, capsys),
        advisor_bearer(db, BRUNO, monkeypatch, capsys),
    )
    anas = f"/api/conversations/{_conversation(db, ana)}/profile"
    brunos = f"/api/conversations/{_conversation(db, bruno)}/profile"
    assert (
        admin_api.patch(anas, headers=as_ana, json={"name": "Camila", "stage": "booked"}).status_code == 200
    )
    assert admin_api.get(brunos, headers=as_ana).status_code == 404
    assert admin_api.patch(brunos, headers=as_ana, json={"stage": "inactive"}).status_code == 404
    bruno_view = admin_api.get(brunos, headers=as_bruno).json()
    assert bruno_view["name"] == "Cami" and bruno_view["stage"] == "new"
    assert admin_api.get(anas, headers=as_ana).json()["stage"] == "booked"
    assert db.query("SELECT advisor_id FROM customer_profiles") == [
        {"advisor_id": db.query("SELECT id FROM advisors WHERE name = 'Ana'")[0]["id"]}
    ]
