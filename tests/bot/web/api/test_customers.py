"""Customers: the marketing list (JSON and CSV), consent history, historical clients, export, erasure."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row
from starlette.testclient import TestClient

from bot.app import create_app
from bot.cli import main
from bot.settings import Settings
from bot.twilio.media_hosting import delete_stored_media
from memory.records.customers import mark_historical
from tests.bot.web.api.conftest import ADMIN_TOKEN, advisor_bearer, bearer
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio, start_fake_receiver

ANA, BRUNO = "+14155238886", "+14155238887"
ADMIN = bearer(ADMIN_TOKEN)


@pytest.fixture
def book(db: Db) -> dict[str, str]:
    """Ana's customers, and one of Bruno's with the same phone as one of Ana's."""
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    bruno = db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    return {
        "ana": ana,
        "bruno": bruno,
        "camila": db.add_customer(
            ana,
            "+573001000001",
            name="Camila",
            labels=["apartamento", "vip"],
            stage="interested",
            consent=True,
        ),
        "andres": db.add_customer(
            ana,
            "+573001000002",
            name="Andrés",
            labels=["casa"],
            stage="interested",
            consent=True,
            days_silent=120,
        ),
        "julian": db.add_customer(
            ana,
            "+573001000003",
            name="=HYPERLINK(1)",
            labels=["apartamento"],
            consent=True,
            days_silent=100,
        ),
        "sofia": db.add_customer(
            ana,
            "+573001000004",
            name="Sofía",
            labels=["apartamento", "vip"],
            consent=True,
            opted_out=True,
            days_silent=200,
        ),
        "mateo": db.add_customer(ana, "+573001000005", name="Mateo", labels=["casa", "vip"], days_silent=95),
        "bruno_camila": db.add_customer(
            bruno, "+573001000001", name="Camila", labels=["vip"], consent=True, days_silent=150
        ),
    }


def _ids(response: object) -> set[str]:
    return {item["id"] for item in response.json()["items"]}  # type: ignore[attr-defined]


def test_the_list_answers_the_marketing_questions_for_each_advisor_only(
    admin_api: TestClient,
    db: Db,
    book: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    as_ana = advisor_bearer(db, ANA, monkeypatch, capsys)

    def ids(**params: object) -> set[str]:
        response = admin_api.get("/api/customers", headers=as_ana, params=params)
        assert response.status_code == 200, response.text
        return _ids(response)

    # Interested customers by label.
    assert ids(stage="interested", label="apartamento") == {book["camila"]}
    assert ids(label="casa,apartamento") == {
        book[n] for n in ("camila", "andres", "julian", "sofia", "mateo")
    }
    assert ids(labels_all="apartamento,vip") == {book["camila"], book["sofia"]}
    # Inactive for 90 days with consent, reachable: Sofía opted out, Mateo never consented.
    assert ids(inactive_days=90, reachable=True) == {book["andres"], book["julian"]}
    assert ids(inactive_days=90, marketing_consent=False) == {book["mateo"]}
    assert ids(q="sofía") == {book["sofia"]}
    # Ana never sees Bruno's Camila; the admin sees both, or one advisor's.
    assert book["bruno_camila"] not in ids()
    everyone = _ids(admin_api.get("/api/customers", headers=ADMIN, params={"label": "vip"}))
    assert {book["camila"], book["bruno_camila"]} <= everyone
    only_bruno = admin_api.get("/api/customers", headers=ADMIN, params={"advisor_id": book["bruno"]})
    assert _ids(only_bruno) == {book["bruno_camila"]}
    assert (
        admin_api.get("/api/customers", headers=as_ana, params={"advisor_id": book["bruno"]}).status_code
        == 404
    )
    # Pages: every customer once.
    first = admin_api.get("/api/customers", headers=as_ana, params={"limit": 2}).json()
    second = admin_api.get(
        "/api/customers", headers=as_ana, params={"limit": 10, "cursor": first["next_cursor"]}
    ).json()
    assert len(first["items"]) == 2 and second["next_cursor"] is None
    assert {i["id"] for i in first["items"] + second["items"]} == ids()
    assert admin_api.get("/api/customers", headers=as_ana, params={"cursor": "nope"}).status_code == 422


def test_the_list_exports_as_csv_safe_to_open_in_a_spreadsheet(
    admin_api: TestClient, db: Db, book: dict[str, str]
) -> None:
    by_header = admin_api.get(
        "/api/customers",
        headers={**ADMIN, "Accept": "text/csv"},
        params={"advisor_id": book["ana"], "label": "apartamento"},
    )
    assert by_header.status_code == 200 and by_header.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(by_header.text)))
    assert {row["id"] for row in rows} == {book["camila"], book["julian"], book["sofia"]}
    julian = next(row for row in rows if row["id"] == book["julian"])
    assert julian["name"] == "'=HYPERLINK(1)"  # never a formula
    assert next(row for row in rows if row["id"] == book["camila"])["labels"] == "apartamento|vip"
    by_query = admin_api.get(
        "/api/customers", headers=ADMIN, params={"format": "csv", "advisor_id": book["ana"]}
    )
    assert len(list(csv.DictReader(io.StringIO(by_query.text)))) == 5


def test_every_consent_change_is_recorded_with_who_and_the_export_holds_it(
    admin_api: TestClient,
    db: Db,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db.add_advisor("Ana", ANA, phone="+573009990001")
    as_ana = advisor_bearer(db, ANA, monkeypatch, capsys)
    customer = "+573001112233"
    assert signed_post(admin_api, inbound_form(ANA, customer, "Hola")).status_code == 200
    conversation = db.query("SELECT conversation_id FROM chat_history")[0]["conversation_id"]
    patched = admin_api.patch(
        f"/api/conversations/{conversation}/profile", headers=as_ana, json={"marketing_consent": True}
    )
    assert patched.status_code == 200 and patched.json()["marketing_consent"] is True
    assert signed_post(admin_api, inbound_form(ANA, customer, "STOP")).status_code == 200
    assert signed_post(admin_api, inbound_form(ANA, customer, "ALTA")).status_code == 200
    changes = db.query("SELECT consent, changed_by FROM consent_changes ORDER BY id")
    assert changes == [
        {"consent": True, "changed_by": "advisor"},
        {"consent": False, "changed_by": "customer"},
        {"consent": True, "changed_by": "customer"},
    ]
    exported = admin_api.get(f"/api/customers/{conversation}/export", headers=as_ana)
    assert exported.status_code == 200
    held = exported.json()
    assert held["phone_number"] == customer
    assert [c["changed_by"] for c in held["consent_changes"]] == ["advisor", "customer", "customer"]
    assert [m["body"] for m in held["messages"] if m["direction"] == "inbound"] == ["Hola", "STOP", "ALTA"]
    assert held["profile"]["marketing_consent"] is True


def test_silent_customers_become_historical_and_their_next_message_brings_them_back(
    admin_api: TestClient, db: Db, book: dict[str, str]
) -> None:
    async def mark() -> int:
        async with await psycopg.AsyncConnection.connect(
            db.url, row_factory=dict_row, autocommit=True
        ) as conn:
            return await mark_historical(conn=conn, after_days=90)

    assert asyncio.run(mark()) == 5  # silent 90 days or more: all but Ana's Camila (1 day)
    stages = {
        str(r["conversation_id"]): r
        for r in db.query("SELECT conversation_id, stage, stage_before_inactive FROM customer_profiles")
    }
    andres = stages[book["andres"]]
    assert andres["stage"] == "inactive" and andres["stage_before_inactive"] == "interested"
    assert asyncio.run(mark()) == 0  # idempotent
    assert signed_post(admin_api, inbound_form(ANA, "+573001000002", "Hola de nuevo")).status_code == 200
    back = db.query(
        "SELECT stage, inactive_since FROM customer_profiles WHERE conversation_id = %s", (book["andres"],)
    )
    assert back == [{"stage": "interested", "inactive_since": None}]


def _rows_naming(db: Db, digits: str, *, except_naming: str = "\x01") -> dict[str, int]:
    """Every table of the schema, and how many of its rows mention `digits` anywhere.

    Rows that also mention `except_naming` are not counted (another advisor's, which stay).
    """
    tables = [
        row["table_name"]
        for row in db.query(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
    ]
    found = {}
    for table in tables:
        query = (
            f'SELECT count(*) AS n FROM "{table}" t WHERE strpos(t::text, %s) > 0 AND strpos(t::text, %s) = 0'
        )
        count = db.query(query, (digits, except_naming))[0]["n"]
        if count:
            found[table] = count
    return found


def test_erasure_leaves_no_row_of_the_customer_anywhere_and_a_new_message_starts_afresh(
    make_settings: Callable[..., Settings],
    db: Db,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    bruno = db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    customer, digits = "+573001112233", "573001112233"

    def hand_over_on_request(messages: list[dict[str, object]]) -> dict[str, object]:
        if "persona" in str(messages[-1].get("content")) and messages[-1]["role"] == "user":
            return {
                "content": None,
                "tool_calls": [
                    ("hand_over_to_advisor", {"reason": "pide una persona", "category": "customer_request"})
                ],
            }
        return {"content": "Respuesta a: " + str(messages[-1].get("content"))}

    fake_openai.behaviour = hand_over_on_request  # type: ignore[assignment]
    with TestClient(create_app(make_settings(admin_token=ADMIN_TOKEN))) as client:
        as_ana = advisor_bearer(db, ANA, monkeypatch, capsys)
        as_bruno = advisor_bearer(db, BRUNO, monkeypatch, capsys)
        for text in ("Hola, me llamo Valentina", "Quiero hablar con una persona"):
            assert signed_post(client, inbound_form(ANA, customer, text)).status_code == 200
            settle(db)
        assert signed_post(client, inbound_form(BRUNO, customer, "Hola Bruno")).status_code == 200
        wait_for(lambda: len(fake_twilio.bodies_to(customer)) >= 2, what="the replies")
        settle(db)
        conversation = db.query("SELECT conversation_id FROM chat_history WHERE advisor_id = %s", (ana,))[0][
            "conversation_id"
        ]
        db.query(
            "INSERT INTO conversation_notes (advisor_id, conversation_id, author, body)"
            " VALUES (%s, %s, 'advisor', %s)",
            (ana, conversation, f"Valentina {customer}"),
        )
        client.patch(
            f"/api/conversations/{conversation}/profile",
            headers=as_ana,
            json={"marketing_consent": True, "labels": ["vip"]},
        )
        before = _rows_naming(db, digits)
        assert {"chat_history", "messages", "checkpoints", "advisor_channel"} <= set(before)
        assert client.delete(f"/api/customers/{conversation}", headers=as_bruno).status_code == 404
        erased = client.delete(f"/api/customers/{conversation}", headers=as_ana)
        assert erased.status_code == 200, erased.text
        assert erased.json()["erased"]["messages"] >= 4 and erased.json()["erased"]["checkpoints"] >= 1
        # No row names the customer any more, except Bruno's: his conversation is untouched.
        assert _rows_naming(db, digits, except_naming=bruno) == {}
        assert _rows_naming(db, digits)["chat_history"] == 1
        anas_thread = f"{ana}_{customer}"
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            assert (
                db.query(f"SELECT count(*) AS n FROM {table} WHERE thread_id = %s", (anas_thread,))[0]["n"]
                == 0
            )
        assert db.query("SELECT count(*) AS n FROM messages WHERE advisor_id = %s", (ana,))[0]["n"] == 0
        assert db.count("customer_profiles") == 0 and db.count("conversation_notes") == 0
        audit = db.query("SELECT erased_by, rows_deleted::text AS rows FROM customer_erasures")
        assert audit[0]["erased_by"].startswith("advisor:") and digits not in audit[0]["rows"]
        # The customer writes again: a fresh conversation, and the AI remembers nothing of before.
        assert signed_post(client, inbound_form(ANA, customer, "Hola otra vez")).status_code == 200
        wait_for(
            lambda: fake_twilio.bodies_to(customer)[-1] == "Respuesta a: Hola otra vez", what="the new reply"
        )
        prompt = json.dumps(fake_openai.requests[-1]["messages"], ensure_ascii=False)
        assert "Valentina" not in prompt
        fresh = db.query("SELECT conversation_id FROM chat_history WHERE advisor_id = %s", (ana,))[0][
            "conversation_id"
        ]
        assert fresh != conversation


def test_the_cli_erases_by_phone_and_stored_voice_files_go_too(
    db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    media = tmp_path / "media"
    media.mkdir()
    (media / "abc123.ogg").write_bytes(b"OggS")
    (tmp_path / "outside.ogg").write_bytes(b"OggS")
    conversation = db.add_customer(ana, "+573001112233", name="Valentina", labels=[])
    db.query(
        "INSERT INTO messages (advisor_id, conversation_id, direction, author, body, media, status)"
        " VALUES (%s, %s, 'outbound', 'ai', '', %s, 'sent')",
        (
            ana,
            conversation,
            json.dumps([{"url": "https://bot.example/media/abc123.ogg?expires=1&signature=x"}]),
        ),
    )
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("MEDIA_DIR", str(media))
    assert main(["customers", "erase", "--advisor", ANA, "+57 300 111 2233"]) == 0
    out = capsys.readouterr().out
    assert "erased +573001112233 for Ana:" in out and "messages 1" in out and "1 media files" in out
    assert not (media / "abc123.ogg").exists() and (tmp_path / "outside.ogg").exists()
    assert main(["customers", "erase", "--advisor", ANA, "+573001112233"]) == 1
    assert "has no customer" in capsys.readouterr().err
    escaping = asyncio.run(
        delete_stored_media(Settings(_env_file=None, media_dir=media), ["https://x/media/..%2Foutside.ogg"])  # type: ignore[call-arg]
    )
    assert escaping == 0 and (tmp_path / "outside.ogg").exists()


def test_erasing_while_the_ai_is_answering_leaves_nothing_in_its_memory(
    make_settings: Callable[..., Settings],
    db: Db,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
) -> None:
    """Issue 23, finding 7: the turn past its first read when the erasure commits writes nothing."""
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    customer = "+573001112233"
    secret_words = ("valentina.rojas@example.com", "1020304050")
    thinking = threading.Event()

    def slow_model(messages: list[dict[str, object]]) -> dict[str, object]:
        last = str(messages[-1].get("content"))
        if secret_words[1] in last:
            thinking.set()
            time.sleep(3)  # the erasure commits meanwhile
        return {"content": "Gracias, " + last[:40]}

    fake_openai.behaviour = slow_model  # type: ignore[assignment]
    fake_receiver = start_fake_receiver()
    settings = make_settings(admin_token=ADMIN_TOKEN, event_webhook_urls=fake_receiver.url)
    with TestClient(create_app(settings)) as client:
        text = f"Mi correo es {secret_words[0]} y mi cédula {secret_words[1]}"
        assert signed_post(client, inbound_form(ANA, customer, text)).status_code == 200
        assert thinking.wait(15)
        conversation = db.query("SELECT conversation_id FROM chat_history WHERE advisor_id = %s", (ana,))[0][
            "conversation_id"
        ]
        erased = client.delete(f"/api/customers/{conversation}", headers=ADMIN)
        assert erased.status_code == 200
        settle(db)
        wait_for(lambda: len(fake_openai.requests) >= 1 and not fake_openai.in_flight, what="the model")
        settle(db)
        for table in ("checkpoint_blobs", "checkpoints", "checkpoint_writes"):
            dumped = " ".join(str(row) for row in db.query(f"SELECT * FROM {table}"))  # noqa: S608
            assert secret_words[0] not in dumped and secret_words[1] not in dumped, table
        assert not fake_twilio.bodies_to(customer)  # the stale reply was never sent either
        fake_openai.requests.clear()
        assert signed_post(client, inbound_form(ANA, customer, "Hola de nuevo")).status_code == 200
        wait_for(lambda: fake_twilio.bodies_to(customer), what="the new conversation's reply")
        seen = json.dumps(fake_openai.requests)
        assert secret_words[0] not in seen and secret_words[1] not in seen
        wait_for(
            lambda: any(e["type"] == "customer.erased" for e in fake_receiver.accepted()),
            what="the customer.erased event",
        )
        event = next(e for e in fake_receiver.accepted() if e["type"] == "customer.erased")
        assert event["data"]["conversation_id"] == str(conversation) and event["data"]["erased_by"] == "admin"
        assert customer not in json.dumps(event)
