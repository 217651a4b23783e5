"""Advisors' flags on AI answers, through the API: only the AI's own messages, only one's own
conversations; forgetting a customer takes their drafts and flags with them, and their export
holds everything the erasure would delete."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from memory.records.erasure import SCOPED_TABLES, held_elsewhere
from memory.records.exports import EXPORTED_AS, exported_tables
from tests.bot.web.api.conftest import ADMIN_TOKEN, advisor_bearer, bearer
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for

ANA, BRUNO, CUSTOMER = "+14155238886", "+14155238887", "+573001112233"


def _ai_message(db: Db, advisor_id: str) -> tuple[str, int, int]:
    """The conversation, the AI's answer and the customer's message of `advisor_id`."""
    rows = wait_for(
        lambda: db.query(
            "SELECT conversation_id, id, author FROM messages WHERE advisor_id = %s ORDER BY id",
            (advisor_id,),
        )[1:],
        what="the AI's answer",
    )
    first = db.query("SELECT id FROM messages WHERE advisor_id = %s ORDER BY id LIMIT 1", (advisor_id,))
    assert rows[0]["author"] == "ai"
    return str(rows[0]["conversation_id"]), int(rows[0]["id"]), int(first[0]["id"])


def test_an_ai_answer_is_flagged_by_its_advisor_only_and_never_a_customers_message(
    admin_api: TestClient, db: Db, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ana = db.add_advisor("Ana", ANA)
    bruno = db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    assert signed_post(admin_api, inbound_form(ANA, CUSTOMER, "¿precio?")).status_code == 200
    conversation, answer, question = _ai_message(db, ana)
    as_ana = advisor_bearer(db, ana, monkeypatch, capsys)
    as_bruno = advisor_bearer(db, bruno, monkeypatch, capsys)
    url = f"/api/conversations/{conversation}/messages/{answer}/flags"

    flagged = admin_api.post(url, headers=as_ana, json={"category": "outdated", "comment": " precio viejo "})
    assert flagged.status_code == 201, flagged.text
    assert flagged.json()["category"] == "outdated" and flagged.json()["comment"] == "precio viejo"
    assert flagged.json()["flagged_by"] == "advisor"
    by_admin = admin_api.post(url, headers=bearer(ADMIN_TOKEN), json={"category": "incorrect"})
    assert by_admin.status_code == 201 and by_admin.json()["flagged_by"] == "admin"

    assert admin_api.post(url, headers=as_bruno, json={"category": "other"}).status_code == 404
    assert admin_api.get(f"/api/conversations/{conversation}/flags", headers=as_bruno).status_code == 404
    customer = f"/api/conversations/{conversation}/messages/{question}/flags"
    assert admin_api.post(customer, headers=as_ana, json={"category": "other"}).status_code == 404
    unknown = admin_api.post(url, headers=as_ana, json={"category": "rude"})
    assert unknown.status_code == 422
    listed = admin_api.get(f"/api/conversations/{conversation}/flags", headers=as_ana).json()
    assert [flag["category"] for flag in listed] == ["outdated", "incorrect"]


def test_erasing_a_customer_takes_their_drafts_and_flags(admin_api: TestClient, db: Db) -> None:
    ana = db.add_advisor("Ana", ANA)
    assert signed_post(admin_api, inbound_form(ANA, CUSTOMER, "hola")).status_code == 200
    conversation, answer, _ = _ai_message(db, ana)
    admin = bearer(ADMIN_TOKEN)
    flag = f"/api/conversations/{conversation}/messages/{answer}/flags"
    assert admin_api.post(flag, headers=admin, json={"category": "incomplete"}).status_code == 201
    admin_api.patch(f"/api/conversations/{conversation}", headers=admin, json={"ai_mode": "draft"})
    assert signed_post(admin_api, inbound_form(ANA, CUSTOMER, "¿sigues?")).status_code == 200
    wait_for(lambda: db.query("SELECT 1 FROM drafts"), what="the draft")
    erased = admin_api.delete(f"/api/customers/{conversation}", headers=admin)
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"]["drafts"] == 1 and erased.json()["erased"]["message_flags"] == 1
    assert db.query("SELECT count(*) AS n FROM drafts")[0]["n"] == 0
    assert db.query("SELECT count(*) AS n FROM message_flags")[0]["n"] == 0


def test_the_export_holds_everything_erasure_deletes_the_ais_summary_included(
    make_settings: Callable[..., Settings], db: Db
) -> None:
    """Found by the audit: the export left out the AI's running summary, which erasure deletes."""
    ana = db.add_advisor("Ana", ANA)
    with TestClient(create_app(make_settings(admin_token=ADMIN_TOKEN, ai_memory_tokens=256))) as client:
        for n in range(6):  # past a 256-token memory: the oldest turns are folded into a summary
            text = f"mensaje {n}: busco apartamento en Envigado con balcón, " + "detalle " * 30
            assert signed_post(client, inbound_form(ANA, CUSTOMER, text)).status_code == 200
            settle(db)
        summary = wait_for(
            lambda: db.query("SELECT summary FROM conversation_summaries WHERE advisor_id = %s", (ana,)),
            what="the summary kept with the records",
        )[0]["summary"]
        conversation = _conversation(db, ana)
        admin = bearer(ADMIN_TOKEN)
        admin_api_flag = f"/api/conversations/{conversation}/flags"
        assert client.get(admin_api_flag, headers=admin).status_code == 200
        exported = client.get(f"/api/customers/{conversation}/export", headers=admin).json()
        erased = client.delete(f"/api/customers/{conversation}", headers=admin).json()["erased"]
    assert exported["conversation_summaries"][0]["summary"] == summary
    assert erased["conversation_summaries"] == 1
    for table in erased:  # whatever erasure deleted, the export held (the checkpoints as the summary)
        assert (table if table in exported else EXPORTED_AS[table]) in exported, table
        if table in exported and isinstance(exported[table], list):
            assert exported[table], table


def test_every_table_erasure_deletes_from_is_in_the_export() -> None:
    tables = [*SCOPED_TABLES, *(table for table, _, _ in held_elsewhere(uuid4(), uuid4(), "+57300"))]
    missing = [t for t in tables if t not in exported_tables() and t not in EXPORTED_AS]
    assert missing == []


def _conversation(db: Db, advisor_id: str) -> str:
    found = db.conversation(advisor_id, CUSTOMER)
    assert found is not None
    return str(found["conversation_id"])
