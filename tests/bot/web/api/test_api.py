"""The conversation API: tokens, tenant isolation (404), pagination, manual replies, CRM, stats, OpenAPI."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.cli import main
from bot.settings import Settings
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio

ADMIN = "admin-token-for-tests-0123456789"
ANA, BRUNO = "+14155238886", "+14155238887"
CUSTOMER, OTHER = "+573001112233", "+573004445566"


@pytest.fixture
def api(make_settings: Callable[..., Settings], db: Db) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(admin_token=ADMIN))) as client:
        yield client


def _token(
    db: Db, advisor_ref: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    monkeypatch.setenv("DATABASE_URL", db.url)
    assert main(["advisors", "token", advisor_ref]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _conversation_id(db: Db, advisor_id: str, phone: str = CUSTOMER) -> str:
    row = db.conversation(advisor_id, phone)
    assert row is not None
    return str(row["conversation_id"])


@pytest.fixture
def two_advisors(api: TestClient, db: Db, fake_twilio: FakeTwilio) -> dict[str, str]:
    ana = db.add_advisor("Ana", ANA, phone="+573005550001")
    bruno = db.add_advisor("Bruno", BRUNO, phone="+573005550002")
    signed_post(api, inbound_form(ANA, CUSTOMER, "Hola Ana"))
    signed_post(api, inbound_form(BRUNO, CUSTOMER, "Hola Bruno"))
    wait_for(lambda: len(fake_twilio.sent) == 2, what="both replies")
    settle(db)
    return {"ana": ana, "bruno": bruno}


def test_tokens_are_required_and_stored_only_as_hashes(
    api: TestClient,
    db: Db,
    two_advisors: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert api.get("/api/conversations").status_code == 401
    assert api.get("/api/conversations", headers=_auth("nope")).status_code == 401
    assert api.get("/api/conversations", headers={"Authorization": "Basic abc"}).status_code == 401
    by_number = _token(db, ANA, monkeypatch, capsys)
    by_id = _token(db, two_advisors["ana"], monkeypatch, capsys)
    assert by_number.startswith("abt_") and by_number != by_id
    stored = {row["token_sha256"] for row in db.query("SELECT token_sha256 FROM advisor_tokens")}
    assert stored == {hashlib.sha256(t.encode()).hexdigest() for t in (by_number, by_id)}
    assert api.get("/api/conversations", headers=_auth(by_number)).status_code == 200
    assert main(["advisors", "token", "+14155550000"]) == 1


def test_the_api_is_closed_without_admin_token_or_advisor_tokens(client: TestClient, db: Db) -> None:
    db.add_advisor("Ana", ANA)
    for token in ("", "None", "admin", ADMIN):
        assert client.get("/api/advisors", headers=_auth(token)).status_code == 401


def test_an_advisor_token_cannot_touch_another_advisors_conversation(
    api: TestClient,
    db: Db,
    two_advisors: dict[str, str],
    fake_twilio: FakeTwilio,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ana = _auth(_token(db, ANA, monkeypatch, capsys))
    brunos = _conversation_id(db, two_advisors["bruno"])
    api.put(f"/api/conversations/{brunos}/crm", json={"hubspot": "42"}, headers=_auth(ADMIN))
    sent_before = len(fake_twilio.sent)
    attempts = [
        api.get(f"/api/conversations/{brunos}", headers=ana),
        api.patch(f"/api/conversations/{brunos}", json={"ai_attention": False}, headers=ana),
        api.post(f"/api/conversations/{brunos}/messages", json={"text": "hola"}, headers=ana),
        api.get(f"/api/conversations/{brunos}/crm", headers=ana),
        api.put(f"/api/conversations/{brunos}/crm", json={"hubspot": "1"}, headers=ana),
        api.get(f"/api/advisors/{two_advisors['bruno']}/stats", headers=ana),
        api.get(f"/api/advisors/{two_advisors['bruno']}/outcomes", headers=ana),
    ]
    assert [r.status_code for r in attempts] == [404] * 7
    assert all(r.json()["detail"].startswith("no such") for r in attempts)
    unknown = api.get("/api/conversations/00000000-0000-0000-0000-000000000000", headers=ana)
    assert unknown.status_code == 404 and unknown.json() == attempts[0].json()
    assert api.get("/api/conversations/not-a-uuid", headers=ana).status_code == 404
    assert db.conversation(two_advisors["bruno"], CUSTOMER)["ai_attention"] is True  # type: ignore[index]
    assert db.query("SELECT crm_refs FROM chat_history WHERE conversation_id = %s", (brunos,))[0][
        "crm_refs"
    ] == {"hubspot": "42"}
    settle(db)
    assert len(fake_twilio.sent) == sent_before
    listed = api.get("/api/conversations", headers=ana).json()["items"]
    assert [c["advisor_id"] for c in listed] == [two_advisors["ana"]]
    assert (
        api.get(f"/api/conversations?advisor_id={two_advisors['bruno']}", headers=ana).json()["items"] == []
    )
    assert api.get("/api/crm/hubspot/42", headers=ana).json() == []
    assert [c["conversation_id"] for c in api.get("/api/crm/hubspot/42", headers=_auth(ADMIN)).json()] == [
        brunos
    ]
    assert api.get("/api/advisors", headers=ana).status_code == 403
    assert api.post("/api/admin/cache/invalidate", headers=ana).status_code == 403


def test_admin_sees_every_advisor(api: TestClient, two_advisors: dict[str, str]) -> None:
    advisors = api.get("/api/advisors", headers=_auth(ADMIN)).json()
    assert [a["name"] for a in advisors] == ["Ana", "Bruno"]
    conversations = api.get("/api/conversations", headers=_auth(ADMIN)).json()["items"]
    assert {c["advisor_id"] for c in conversations} == set(two_advisors.values())
    only_bruno = api.get(
        f"/api/conversations?advisor_id={two_advisors['bruno']}", headers=_auth(ADMIN)
    ).json()
    assert [c["advisor_id"] for c in only_bruno["items"]] == [two_advisors["bruno"]]
    assert api.post("/api/admin/cache/invalidate", headers=_auth(ADMIN)).json() == {"status": "invalidated"}


def test_pagination_returns_each_conversation_once_while_new_ones_arrive(api: TestClient, db: Db) -> None:
    advisor = db.add_advisor("Ana", ANA)
    insert = (
        "INSERT INTO chat_history (advisor_id, phone_number, created_at) "
        "VALUES (%s, %s, now() - make_interval(secs => %s)) RETURNING conversation_id"
    )
    original = {
        str(db.query(insert, (advisor, f"+5730000000{i:02d}", 100 - i))[0]["conversation_id"])
        for i in range(7)
    }
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        url = "/api/conversations?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(url, headers=_auth(ADMIN)).json()
        seen += [c["conversation_id"] for c in page["items"]]
        pages += 1
        if pages == 1:  # new customers write while the CRM is paging
            for i in range(3):
                db.query(insert, (advisor, f"+5731000000{i:02d}", 0))
        # an update to an already listed conversation does not move it
        db.query("UPDATE chat_history SET updated_at = now() WHERE conversation_id = %s", (seen[0],))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 10
    assert original <= set(seen)
    bad = api.get("/api/conversations?cursor=%%%", headers=_auth(ADMIN))
    assert bad.status_code == 422


def test_patch_switches_flags_and_validates(api: TestClient, db: Db, two_advisors: dict[str, str]) -> None:
    conversation = _conversation_id(db, two_advisors["ana"])
    url = f"/api/conversations/{conversation}"
    changed = api.patch(url, json={"ai_attention": False, "audio_available": True}, headers=_auth(ADMIN))
    assert changed.status_code == 200
    assert (changed.json()["ai_attention"], changed.json()["audio_available"]) == (False, True)
    assert changed.json()["ai_attention_changed_by"] == "admin"
    for body in ({}, {"ai_attention": "maybe"}, {"ai_attention": True, "color": "red"}):
        invalid = api.patch(url, json=body, headers=_auth(ADMIN))
        assert invalid.status_code == 422, body
        assert invalid.json()["detail"][0]["msg"]
    field_error = api.patch(url, json={"ai_attention": "maybe"}, headers=_auth(ADMIN)).json()["detail"][0]
    assert field_error["loc"] == ["body", "ai_attention"]


def test_manual_reply_goes_out_pauses_the_ai_and_joins_its_memory(
    api: TestClient,
    db: Db,
    two_advisors: dict[str, str],
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ana = _auth(_token(db, ANA, monkeypatch, capsys))
    conversation = _conversation_id(db, two_advisors["ana"])
    url = f"/api/conversations/{conversation}/messages"
    accepted = api.post(url, json={"text": "Te envío el catálogo ahora"}, headers=ana)
    assert accepted.status_code == 202
    assert accepted.json()["status"] == "pending"
    wait_for(lambda: "Te envío el catálogo ahora" in fake_twilio.bodies_to(CUSTOMER))
    assert fake_twilio.sent[-1].from_ == f"whatsapp:{ANA}"
    detail = api.get(f"/api/conversations/{conversation}", headers=ana).json()
    assert detail["ai_attention"] is False
    assert [m["author"] for m in detail["messages"]["items"]] == ["customer", "ai", "advisor"]
    api.patch(f"/api/conversations/{conversation}", json={"ai_attention": True}, headers=ana)
    signed_post(api, inbound_form(ANA, CUSTOMER, "¿Y el precio?"))
    wait_for(lambda: fake_twilio.bodies_to(CUSTOMER)[-1].startswith("Respuesta a: ¿Y el precio?"))
    assert any(m.get("content") == "Te envío el catálogo ahora" for m in fake_openai.requests[-1]["messages"])
    for body in ({}, {"text": ""}, {"text": "x" * 1601}, {"content_sid": "nope"}, {"text": "a", "extra": 1}):
        assert api.post(url, json=body, headers=ana).status_code == 422, body


def test_outside_the_24_hour_window_only_a_template_is_sent(
    api: TestClient, db: Db, two_advisors: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    conversation = _conversation_id(db, two_advisors["ana"])
    db.query(
        "UPDATE chat_history SET last_inbound_at = now() - interval '25 hours' WHERE conversation_id = %s",
        (conversation,),
    )
    url = f"/api/conversations/{conversation}/messages"
    refused = api.post(url, json={"text": "¿Sigues interesado?"}, headers=_auth(ADMIN))
    assert refused.status_code == 409
    assert "template" in refused.json()["detail"]
    assert api.get(f"/api/conversations/{conversation}", headers=_auth(ADMIN)).json()["window_open"] is False
    template = "HX" + "a" * 32
    accepted = api.post(
        url, json={"content_sid": template, "content_variables": {"1": "Valentina"}}, headers=_auth(ADMIN)
    )
    assert accepted.status_code == 202
    sent = wait_for(lambda: [m for m in fake_twilio.sent if m.content_sid == template], what="the template")
    assert sent[0].to == f"whatsapp:{CUSTOMER}"


def test_an_advisor_sends_a_list_through_the_api_once_per_shape_and_bad_options_are_refused(
    api: TestClient, db: Db, two_advisors: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    conversation = _conversation_id(db, two_advisors["ana"])
    url = f"/api/conversations/{conversation}/messages"
    offer = {
        "text": "¿Qué proyecto te interesa?",
        "options": ["Torre Norte | 2 y 3 habitaciones, entrega 2027", "Parque Sur", "Villa Verde", "Mirador"],
    }
    for _ in range(2):
        assert api.post(url, json=offer, headers=_auth(ADMIN)).status_code == 202
    sent = wait_for(
        lambda: [m for m in fake_twilio.sent if m.content_sid] if len(fake_twilio.sent) == 4 else [],
        what="both lists",
    )
    assert len(fake_twilio.contents) == 1  # one shape, created once
    content_sid, created = fake_twilio.contents[0]
    assert {m.content_sid for m in sent} == {content_sid}
    items = created["types"]["twilio/list-picker"]["items"]
    assert items[0] == {
        "item": "Torre Norte",
        "id": "opcion_1",
        "description": "2 y 3 habitaciones, entrega 2027",
    }
    assert len(items) == 4
    stored = db.query("SELECT body FROM messages WHERE author = 'advisor' ORDER BY id")
    assert stored[0]["body"].startswith("¿Qué proyecto te interesa?\n1. Torre Norte — 2 y 3")
    too_long = api.post(
        url, json={**offer, "options": ["Un nombre de proyecto larguísimo", "Otro"]}, headers=_auth(ADMIN)
    )
    assert too_long.status_code == 422 and "24 caracteres" in too_long.json()["detail"]
    for body in (
        {"options": ["a", "b"]},
        {"text": "¿?", "options": ["solo una"]},
        {"text": "¿?", "options": ["a", "b"], "content_sid": "HX" + "a" * 32},
        {"text": "¿?", "options_kind": "list"},
    ):
        assert api.post(url, json=body, headers=_auth(ADMIN)).status_code == 422, body
    assert len(db.query("SELECT 1 FROM messages WHERE author = 'advisor'")) == 2  # nothing else recorded


def test_an_opted_out_customer_cannot_be_messaged(
    api: TestClient, db: Db, two_advisors: dict[str, str]
) -> None:
    signed_post(api, inbound_form(ANA, CUSTOMER, "STOP"))
    settle(db)
    conversation = _conversation_id(db, two_advisors["ana"])
    detail = api.get(f"/api/conversations/{conversation}", headers=_auth(ADMIN)).json()
    assert detail["opted_out"] is True and detail["opted_out_at"]
    refused = api.post(
        f"/api/conversations/{conversation}/messages", json={"text": "hola"}, headers=_auth(ADMIN)
    )
    assert refused.status_code == 409 and "opted out" in refused.json()["detail"]


def test_crm_references(api: TestClient, db: Db, two_advisors: dict[str, str]) -> None:
    conversation = _conversation_id(db, two_advisors["ana"])
    url = f"/api/conversations/{conversation}/crm"
    assert api.get(url, headers=_auth(ADMIN)).json() == {}
    assert api.put(url, json={"hubspot": "1234", "pipedrive": "p-9"}, headers=_auth(ADMIN)).status_code == 200
    assert api.get(url, headers=_auth(ADMIN)).json() == {"hubspot": "1234", "pipedrive": "p-9"}
    found = api.get("/api/crm/hubspot/1234", headers=_auth(ADMIN)).json()
    assert [c["conversation_id"] for c in found] == [conversation]
    assert api.get("/api/crm/hubspot/9999", headers=_auth(ADMIN)).json() == []
    assert api.put(url, json={"Bad System!": "1"}, headers=_auth(ADMIN)).status_code == 422
    assert api.put(url, json={"hubspot": ""}, headers=_auth(ADMIN)).status_code == 422


def test_stats_per_day(
    api: TestClient, db: Db, two_advisors: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    for category in (None, "complaint", "complaint", "customer_request"):
        db.query(
            "INSERT INTO handovers (advisor_id, conversation_id, reason, category) "
            "VALUES (%s, %s, 'prueba', %s)",
            (two_advisors["ana"], _conversation_id(db, two_advisors["ana"]), category),
        )
    stats = api.get(f"/api/advisors/{two_advisors['ana']}/stats?days=3", headers=_auth(ADMIN)).json()
    assert len(stats["days"]) == 3
    today = stats["days"][-1]
    assert (today["conversations"], today["inbound"], today["ai_replies"], today["human_replies"]) == (
        1,
        1,
        1,
        0,
    )
    assert today["handovers"] == 4
    assert today["handovers_by_category"] == {"unknown": 1, "complaint": 2, "customer_request": 1}
    assert stats["days"][0]["handovers_by_category"] == {}
    assert today["median_first_response_seconds"] >= 0
    assert stats["days"][0]["inbound"] == 0 and stats["days"][0]["median_first_response_seconds"] is None
    assert (
        api.get(f"/api/advisors/{two_advisors['ana']}/stats?days=0", headers=_auth(ADMIN)).status_code == 422
    )


EXPECTED_OPERATIONS = {
    ("/api/advisors", "get"),
    ("/api/advisors/{advisor_id}/stats", "get"),
    ("/api/advisors/{advisor_id}/outcomes", "get"),
    ("/api/conversations", "get"),
    ("/api/conversations/{conversation_id}", "get"),
    ("/api/conversations/{conversation_id}", "patch"),
    ("/api/conversations/{conversation_id}/messages", "post"),
    ("/api/conversations/{conversation_id}/drafts", "get"),
    ("/api/conversations/{conversation_id}/drafts/{draft_id}/approve", "post"),
    ("/api/conversations/{conversation_id}/drafts/{draft_id}/reject", "post"),
    ("/api/conversations/{conversation_id}/messages/{message_id}/flags", "post"),
    ("/api/conversations/{conversation_id}/flags", "get"),
    ("/api/conversations/{conversation_id}/crm", "get"),
    ("/api/conversations/{conversation_id}/crm", "put"),
    ("/api/conversations/{conversation_id}/profile", "get"),
    ("/api/conversations/{conversation_id}/profile", "patch"),
    ("/api/crm/{system}/{external_id}", "get"),
    ("/api/admin/cache/invalidate", "post"),
    ("/api/knowledge", "post"),
    ("/api/knowledge", "get"),
    ("/api/knowledge/{document_id}", "delete"),
    ("/api/knowledge/search", "get"),
    ("/api/customers", "get"),
    ("/api/customers/{customer_id}/export", "get"),
    ("/api/customers/{customer_id}", "delete"),
    ("/api/campaigns", "post"),
    ("/api/campaigns/{campaign_id}", "get"),
    ("/api/legacy/conversations", "get"),
    ("/api/legacy/conversation/{conversation_id}", "get"),
    ("/api/legacy/conversation/{conversation_id}/hubspot", "get"),
}


def _validate(document: dict[str, Any], path: str, method: str, status: str, body: Any) -> None:
    schema = document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": document["components"]})


def test_openapi_document_matches_what_the_endpoints_do(
    api: TestClient, db: Db, two_advisors: dict[str, str]
) -> None:
    document = api.get("/openapi.json").json()
    operations = {(path, method) for path, item in document["paths"].items() for method in item}
    assert operations == EXPECTED_OPERATIONS
    assert all("HTTPBearer" in str(document["paths"][p][m].get("security")) for p, m in operations)
    conversation = _conversation_id(db, two_advisors["ana"])
    admin = _auth(ADMIN)
    calls = [
        ("/api/advisors", "get", "200", api.get("/api/advisors", headers=admin)),
        ("/api/conversations", "get", "200", api.get("/api/conversations", headers=admin)),
        (
            "/api/conversations/{conversation_id}",
            "get",
            "200",
            api.get(f"/api/conversations/{conversation}", headers=admin),
        ),
        (
            "/api/conversations/{conversation_id}",
            "patch",
            "200",
            api.patch(f"/api/conversations/{conversation}", json={"audio_available": True}, headers=admin),
        ),
        (
            "/api/conversations/{conversation_id}/messages",
            "post",
            "202",
            api.post(f"/api/conversations/{conversation}/messages", json={"text": "hola"}, headers=admin),
        ),
        (
            "/api/conversations/{conversation_id}/crm",
            "put",
            "200",
            api.put(f"/api/conversations/{conversation}/crm", json={"hubspot": "1"}, headers=admin),
        ),
        ("/api/crm/{system}/{external_id}", "get", "200", api.get("/api/crm/hubspot/1", headers=admin)),
        (
            "/api/conversations/{conversation_id}/profile",
            "patch",
            "200",
            api.patch(
                f"/api/conversations/{conversation}/profile",
                json={"labels": ["vip"], "data": {"ciudad": "Cali"}, "stage": "interested"},
                headers=admin,
            ),
        ),
        (
            "/api/conversations/{conversation_id}/profile",
            "get",
            "200",
            api.get(f"/api/conversations/{conversation}/profile", headers=admin),
        ),
        (
            "/api/advisors/{advisor_id}/stats",
            "get",
            "200",
            api.get(f"/api/advisors/{two_advisors['ana']}/stats", headers=admin),
        ),
        (
            "/api/conversations/{conversation_id}",
            "patch",
            "422",
            api.patch(f"/api/conversations/{conversation}", json={}, headers=admin),
        ),
        (
            "/api/conversations/{conversation_id}/drafts",
            "get",
            "200",
            api.get(f"/api/conversations/{conversation}/drafts", headers=admin),
        ),
        (
            "/api/conversations/{conversation_id}/drafts/{draft_id}/approve",
            "post",
            "404",
            api.post(f"/api/conversations/{conversation}/drafts/1/approve", headers=admin),
        ),
        ("/api/legacy/conversations", "get", "200", api.get("/api/legacy/conversations", headers=admin)),
        (
            "/api/legacy/conversation/{conversation_id}",
            "get",
            "404",
            api.get("/api/legacy/conversation/conv-1", headers=admin),
        ),
        (
            "/api/legacy/conversation/{conversation_id}/hubspot",
            "get",
            "404",
            api.get("/api/legacy/conversation/conv-1/hubspot", headers=admin),
        ),
    ]
    for path, method, status, response in calls:
        assert str(response.status_code) == status, (path, method, response.text)
        _validate(document, path, method, status, response.json())


def test_nul_in_crm_ids_is_refused_not_a_server_error(api: TestClient, db: Db) -> None:
    """Found by the API fuzz test: PostgreSQL cannot store or compare text holding NUL."""
    headers = _auth(ADMIN)
    assert api.get("/api/crm/%00/%00", headers=headers).status_code == 422
    assert api.get("/api/crm/hubspot/%00", headers=headers).status_code == 422
    assert api.get("/api/crm/hubspot/42", headers=headers).status_code == 200
    unknown = "/api/conversations/00000000-0000-0000-0000-000000000000/crm"
    assert api.put(unknown, json={"hubspot": "a\u0000b"}, headers=headers).status_code == 422


@pytest.mark.parametrize(
    "position",
    ['{"id":1e400}', '{"id":-1e400}', '{"id":1e30}', '{"id":-5}', '{"id":"7"}', '{"id":true}', "[1]", "{}"],
)
def test_crafted_message_cursors_are_refused_with_a_reason(
    api: TestClient, db: Db, two_advisors: dict[str, str], position: str
) -> None:
    """A cursor is opaque but decodable: content this server never wrote is a 422, never a 500."""
    conversation = _conversation_id(db, two_advisors["ana"])
    cursor = base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")
    answer = api.get(f"/api/conversations/{conversation}?cursor={cursor}", headers=_auth(ADMIN))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["msg"] == "invalid cursor"
