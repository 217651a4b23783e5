"""Moving a business onto advisor-bot: `db upgrade` on a database that already has its tables.

The move plan of the old one-advisor bot (its seed 004) creates `advisors` with the contract
columns and no `settings`; upgraded as it was, the schema was left half made and every webhook
answered 500. Driven as the business would: their SQL, then `advisor-bot db upgrade --dry-run`,
then the upgrade, then Twilio's webhook.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.cli import main
from bot.settings import Settings
from tests.conftest import Db, inbound_form, signed_post, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio

# Seed 004's three blocks, rebuilt from what the move plan says they do (its text is not here).
LEGACY = Path(__file__).resolve().parents[2] / "fixtures" / "legacy"
SEED_004_ADVISORS = (LEGACY / "seed_004_advisors.sql").read_text()
SEED_004 = SEED_004_ADVISORS + (LEGACY / "seed_004_advisor_ids.sql").read_text()
ANA = "+14155238886"

# The old one-advisor bot's tables: several chat_history rows per phone (it read the newest), the
# phone as Twilio sent it or without '+', messages by role.
LEGACY_SERIAL = (
    (LEGACY / "old_bot_tables.sql").read_text()
    + """
INSERT INTO chat_history (conversation_id, phone_number, ai_attention, audio_available, created_at) VALUES
    ('{A}', 'whatsapp:+573001112233', false, false, now() - interval '9 days'),
    ('{B}', '+573001112233', true, false, now() - interval '2 days'),
    ('{C}', '573004445566', true, true, now() - interval '8 days'),
    ('{D}', 'whatsapp:+573004445566', false, false, now() - interval '3 days');
INSERT INTO messages (conversation_id, role, content, created_at) VALUES
    ('{A}', 'user', 'Busco apartamento en Chapinero', now() - interval '9 days'),
    ('{A}', 'assistant', 'Tenemos dos en Chapinero Alto', now() - interval '9 days'),
    ('{B}', 'user', 'Sigue disponible el de 2 alcobas?', now() - interval '2 days'),
    ('{B}', 'assistant', 'Sí, sigue disponible', now() - interval '2 days'),
    ('{C}', 'user', 'Hola', now() - interval '8 days'),
    ('{D}', 'user', 'Quiero hablar con una persona', now() - interval '3 days');
""".format(**{key: f"00000000-0000-4000-8000-00000000000{key.lower()}" for key in "ABCD"})
)
CUSTOMER, QUIET_CUSTOMER = "+573001112233", "+573004445566"


def _count(cli: Db, table: str) -> int:
    return int(cli.query(f"SELECT count(*) AS n FROM {table}")[0]["n"])  # noqa: S608 - test's own names


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_database: str) -> Db:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    return Db(fresh_database)


def test_seed_004s_advisors_table_is_adopted_after_a_dry_run_and_its_advisor_is_answered(
    cli: Db,
    capsys: pytest.CaptureFixture[str],
    make_settings: Callable[..., Settings],
    fresh_database: str,
    fake_twilio: FakeTwilio,
) -> None:
    cli.query(SEED_004_ADVISORS)
    assert main(["db", "upgrade", "--dry-run"]) == 0
    said = capsys.readouterr().out
    assert "would change advisors: add column settings" in said and "dry run, nothing changed" in said
    assert "0001_core" in said  # pending
    assert cli.query("SELECT to_regclass('advisor_bot_migrations') IS NULL AS none")[0]["none"]
    assert "settings" not in {
        r["column_name"]
        for r in cli.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'advisors'")
    }

    assert main(["db", "upgrade"]) == 0
    said = capsys.readouterr().out
    assert "changed advisors: add column settings" in said and "advisors_before_advisor_bot" in said
    assert cli.query("SELECT name, settings FROM advisors") == [{"name": "Ana Gómez", "settings": {}}]
    assert cli.query("SELECT count(*) AS n FROM advisors_before_advisor_bot")[0]["n"] == 1

    with TestClient(create_app(make_settings(database_url=fresh_database))) as client:
        response = signed_post(client, inbound_form("+14155238886", "+573009998877", "hola"))
        assert response.status_code == 200  # was a 500: no settings column
        wait_for(lambda: fake_twilio.bodies_to("+573009998877"), what="the answer from Ana's number")

    assert main(["db", "upgrade", "--drop-backups"]) == 0
    assert "dropped: advisors_before_advisor_bot" in capsys.readouterr().out
    assert cli.query("SELECT to_regclass('advisors_before_advisor_bot') IS NULL AS gone")[0]["gone"]


def test_the_old_bots_database_with_seed_004_upgrades_keeps_every_row_and_answers_its_customers(
    cli: Db,
    capsys: pytest.CaptureFixture[str],
    make_settings: Callable[..., Settings],
    fresh_database: str,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
) -> None:
    cli.query(LEGACY_SERIAL)
    cli.query(SEED_004)  # verbatim, as the business runs it
    before = {table: _count(cli, table) for table in ("advisors", "chat_history", "messages")}

    assert main(["db", "upgrade"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "4 rows with no advisor" in error and "--legacy-advisor" in error
    assert "nothing changed" in error
    assert cli.query("SELECT to_regclass('advisor_bot_migrations') IS NULL AS none")[0]["none"]

    assert main(["db", "upgrade", "--dry-run", "--legacy-advisor", ANA]) == 0
    said = capsys.readouterr().out
    assert "would change chat_history: merge 4 rows into 2 conversations" in said
    assert "would change messages: keep all 6 rows, in order" in said
    assert "would change messages: a copy as it was kept in messages_before_advisor_bot" in said
    assert "dry run, nothing changed" in said
    assert cli.query("SELECT count(*) AS n FROM chat_history WHERE advisor_id IS NULL")[0]["n"] == 4

    assert main(["db", "upgrade", "--legacy-advisor", "whatsapp:+1 415 523 8886"]) == 0
    said = capsys.readouterr().out
    assert "chat_history: a copy as it was kept in chat_history_before_advisor_bot" in said
    assert "messages: a copy as it was kept in messages_before_advisor_bot" in said

    assert _count(cli, "advisors") == before["advisors"]
    assert _count(cli, "messages") == before["messages"]  # every message kept
    assert _count(cli, "chat_history") == 2  # one conversation per customer …
    assert _count(cli, "chat_history_before_advisor_bot") == before["chat_history"]  # … every row copied
    assert _count(cli, "messages_before_advisor_bot") == before["messages"]
    flags = cli.query(
        "SELECT phone_number, ai_attention, audio_available, id FROM chat_history ORDER BY phone_number"
    )
    assert [(r["phone_number"], r["ai_attention"], r["audio_available"]) for r in flags] == [
        (CUSTOMER, True, False),  # the newest row's flags
        (QUIET_CUSTOMER, False, False),
    ]
    assert cli.query(
        "SELECT count(*) AS n FROM messages WHERE processed_at IS NULL OR advisor_id IS NULL"
    ) == [{"n": 0}]
    assert cli.query("SELECT content, body FROM messages ORDER BY id LIMIT 1") == [
        {"content": "Busco apartamento en Chapinero", "body": "Busco apartamento en Chapinero"}
    ]  # the old column stays beside the product's

    with TestClient(create_app(make_settings(database_url=fresh_database))) as client:
        assert signed_post(client, inbound_form(ANA, CUSTOMER, "¿Y cuánto cuesta?")).status_code == 200
        wait_for(lambda: fake_twilio.bodies_to(CUSTOMER), what="the returning customer's answer")
        prompt = " | ".join(str(message.get("content")) for message in fake_openai.requests[-1]["messages"])
        remembered = [
            "Busco apartamento en Chapinero",
            "Tenemos dos en Chapinero Alto",
            "Sigue disponible el de 2 alcobas?",
            "¿Y cuánto cuesta?",
        ]
        assert all(text in prompt for text in remembered), prompt
        assert [prompt.index(text) for text in remembered] == sorted(prompt.index(t) for t in remembered)

        asked = len(fake_openai.requests)
        assert signed_post(client, inbound_form(ANA, QUIET_CUSTOMER, "¿Hola?")).status_code == 200
        wait_for(
            lambda: cli.query(
                "SELECT processed_at FROM messages WHERE body = '¿Hola?' AND processed_at IS NOT NULL"
            ),
            what="the quiet customer's message handled",
        )
        assert fake_twilio.bodies_to(QUIET_CUSTOMER) == []  # their advisor had taken over before the move
        assert len(fake_openai.requests) == asked
    assert _count(cli, "chat_history") == 2 and _count(cli, "messages") == before["messages"] + 3

    assert main(["db", "upgrade", "--drop-backups"]) == 0
    assert "chat_history_before_advisor_bot, messages_before_advisor_bot" in capsys.readouterr().out


# Another old shape: uuid ids, the conversation as text, `sender`, a column of the business's own,
# and an advisor_id the business already filled in by hand.
LEGACY_UUID = """
CREATE TABLE chat_history (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id TEXT UNIQUE NOT NULL,
    phone_number TEXT UNIQUE NOT NULL,
    ai_attention BOOLEAN,
    audio_available BOOLEAN,
    lead_source TEXT NOT NULL,
    created_at TIMESTAMPTZ DEFAULT NOW()
);
CREATE TABLE messages (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id TEXT NOT NULL REFERENCES chat_history (conversation_id) ON DELETE CASCADE,
    sender TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at TIMESTAMPTZ DEFAULT NOW()
);
INSERT INTO chat_history (conversation_id, phone_number, ai_attention, lead_source)
    VALUES ('conv-17', '573007778899', NULL, 'feria 2025');
INSERT INTO messages (conversation_id, sender, content, created_at) VALUES
    ('conv-17', 'user', 'Me interesa la casa campestre', now() - interval '3 days'),
    ('conv-17', 'bot', 'La casa campestre tiene tres alcobas', now() - interval '71 hours');
"""


def test_an_old_shape_with_uuid_ids_and_text_conversations_keeps_its_own_columns_and_is_answered(
    cli: Db,
    capsys: pytest.CaptureFixture[str],
    make_settings: Callable[..., Settings],
    fresh_database: str,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
) -> None:
    cli.query(LEGACY_UUID)
    cli.query(SEED_004)
    cli.query("UPDATE chat_history SET advisor_id = (SELECT id FROM advisors)")
    cli.query("UPDATE messages SET advisor_id = (SELECT id FROM advisors)")
    old_ids = cli.query("SELECT id::text AS id FROM messages ORDER BY created_at")
    before = {table: _count(cli, table) for table in ("chat_history", "messages")}

    assert main(["db", "upgrade"]) == 0  # every row names its advisor: no --legacy-advisor needed
    assert {table: _count(cli, table) for table in ("chat_history", "messages")} == before
    said = capsys.readouterr().out
    assert "keep conversation_id (text) as legacy_conversation_id" in said
    assert "messages: keep id (uuid) as legacy_id" in said
    assert "lead_source is kept but no longer required" in said

    assert cli.query(
        "SELECT phone_number, legacy_conversation_id, lead_source, ai_attention FROM chat_history"
    ) == [
        {
            "phone_number": "+573007778899",
            "legacy_conversation_id": "conv-17",
            "lead_source": "feria 2025",
            "ai_attention": True,
        }
    ]
    assert cli.query("SELECT legacy_id::text AS id FROM messages ORDER BY messages.id") == old_ids
    assert [r["author"] for r in cli.query("SELECT author FROM messages ORDER BY id")] == ["customer", "ai"]

    with TestClient(create_app(make_settings(database_url=fresh_database))) as client:
        assert signed_post(client, inbound_form(ANA, "+573007778899", "¿Tiene piscina?")).status_code == 200
        wait_for(lambda: fake_twilio.bodies_to("+573007778899"), what="the answer")
        prompt = " | ".join(str(m.get("content")) for m in fake_openai.requests[-1]["messages"])
        assert "La casa campestre tiene tres alcobas" in prompt
        # The same customer writing to a second advisor is a second conversation (no unique phone).
        cli.query(
            "INSERT INTO advisors (name, phone_number, twilio_phone_number) "
            "VALUES ('Luis', '+573005550000', '+14155550101')"
        )
        assert signed_post(client, inbound_form("+14155550101", "+573007778899", "hola")).status_code == 200
        wait_for(lambda: len(fake_twilio.bodies_to("+573007778899")) >= 2, what="the second advisor's answer")
    assert _count(cli, "chat_history") == 2


def test_roles_the_product_cannot_place_stop_the_upgrade_in_one_line_that_names_them(
    cli: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.query(LEGACY_SERIAL)
    cli.query(SEED_004)
    cli.query("UPDATE messages SET role = 'agent' WHERE content = 'Sí, sigue disponible'")
    assert main(["db", "upgrade", "--legacy-advisor", ANA]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "messages.role" in error and "'agent' (1 rows)" in error
    assert "run `advisor-bot db upgrade`" not in error
    assert _count(cli, "messages") == 6
    assert cli.query("SELECT to_regclass('messages_before_advisor_bot') IS NULL AS none")[0]["none"]


def test_an_unknown_legacy_advisor_is_refused_before_anything_changes(
    cli: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.query(LEGACY_SERIAL)
    cli.query(SEED_004)
    assert main(["db", "upgrade", "--legacy-advisor", "+14155550000"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no registered advisor has that id or Twilio number" in error
    assert cli.query("SELECT count(*) AS n FROM chat_history WHERE advisor_id IS NULL")[0]["n"] == 4


def test_seed_000s_mappings_of_moved_conversations_answer_the_old_endpoints_for_their_advisor_only(
    cli: Db,
    capsys: pytest.CaptureFixture[str],
    make_settings: Callable[..., Settings],
    fresh_database: str,
    tmp_path: Path,
) -> None:
    cli.query(LEGACY_SERIAL)
    cli.query(SEED_004)
    assert main(["db", "upgrade", "--legacy-advisor", ANA]) == 0
    # The old conversation ids of a merged customer all stay findable.
    assert cli.query(
        "SELECT legacy_conversation_ids AS ids FROM chat_history WHERE phone_number = %s", (CUSTOMER,)
    ) == [{"ids": [f"00000000-0000-4000-8000-00000000000{key}" for key in "ab"]}]
    old = {key: f"00000000-0000-4000-8000-00000000000{key}" for key in "abcd"}
    mappings = {  # seed 000's file: one record per conversation, two of them the same contact's
        old["a"]: {
            "conversation_id": old["a"],
            "hubspot_id": "1001",
            "prospect_data": {"nombres": "Laura"},
            "updated_at": "2025-01-01T00:00:00Z",
        },
        old["b"]: {
            "conversation_id": old["b"],
            "hubspot_id": "1001",
            "prospect_data": {"nombres": "Laura G."},
            "updated_at": "2025-02-01T00:00:00Z",
        },
        old["c"]: {"conversation_id": old["c"], "hubspot_id": "2002", "prospect_data": {}},
        "from-another-system": {"hubspot_id": "3003"},
    }
    path = tmp_path / "conversation_mappings.json"
    path.write_text(json.dumps(mappings))
    assert main(["import", "mappings", str(path)]) == 0
    assert (
        "imported 4, updated 0, unchanged 0, rejected 0" in capsys.readouterr().out
    )  # 1001 twice: both kept
    assert main(["import", "mappings", str(path)]) == 0
    assert "imported 0, updated 0, unchanged 4" in capsys.readouterr().out
    assert cli.query("SELECT prospect FROM crm_contacts WHERE hubspot_id = '1001'") == [
        {"prospect": {"nombres": "Laura G."}}  # the contact as a profile reads it: the newest mapping
    ]

    cli.query(
        "INSERT INTO advisors (name, phone_number, twilio_phone_number) "
        "VALUES ('Luis', '+573005550000', '+14155550101')"
    )
    assert main(["advisors", "token", ANA]) == 0
    ana = {"Authorization": "Bearer " + capsys.readouterr().out.strip().splitlines()[-1]}
    assert main(["advisors", "token", "+14155550101"]) == 0
    luis = {"Authorization": "Bearer " + capsys.readouterr().out.strip().splitlines()[-1]}
    admin = {"Authorization": "Bearer admin-token-for-adoption-tests-0123"}
    settings = make_settings(database_url=fresh_database, admin_token="admin-token-for-adoption-tests-0123")
    with TestClient(create_app(settings)) as client:
        answer = client.get(f"/api/legacy/conversation/{old['a']}", headers=ana)
        assert answer.status_code == 200
        assert answer.json() == {
            "status": "success",
            "mapping": {
                "conversation_id": old["a"],
                "hubspot_id": "1001",
                "prospect_data": {"nombres": "Laura"},
                "created_at": None,
                "updated_at": "2025-01-01T00:00:00Z",
            },
        }
        assert client.get(f"/api/legacy/conversation/{old['b']}/hubspot", headers=ana).json() == {
            "status": "success",
            "conversation_id": old["b"],
            "hubspot_id": "1001",
        }
        listed = client.get("/api/legacy/conversations", headers=ana).json()
        assert listed["status"] == "success" and listed["total"] == 3
        assert [m["conversation_id"] for m in listed["mappings"]] == [old["a"], old["b"], old["c"]]
        # Another advisor's and an unknown id read the same: not found, and nothing about whose.
        for headers, key in ((luis, old["a"]), (ana, "from-another-system"), (ana, "no-such-id")):
            refused = client.get(f"/api/legacy/conversation/{key}", headers=headers)
            assert refused.status_code == 404 and refused.json() == {
                "status": "not_found",
                "conversation_id": key,
            }
        assert client.get("/api/legacy/conversations", headers=luis).json()["total"] == 0
        assert client.get("/api/legacy/conversations", headers=admin).json()["total"] == 4
        assert client.get("/api/legacy/conversation/from-another-system", headers=admin).status_code == 200
        assert client.get("/api/legacy/conversations").status_code == 401


_CONSTRAINTS = (
    "SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
    "WHERE conrelid = %s::regclass"
)
_INDEXES = "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s"
_NOT_NULL = (
    "SELECT column_name AS name FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = %s AND is_nullable = 'NO'"
)


def test_an_adopted_database_has_every_key_index_and_required_column_of_a_fresh_one(
    cli: Db, db: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.query(LEGACY_UUID)
    cli.query(SEED_004)
    cli.query("UPDATE chat_history SET advisor_id = (SELECT id FROM advisors)")
    assert main(["db", "upgrade"]) == 0
    for table in ("advisors", "chat_history", "messages"):
        fresh = {(r["name"], r["definition"]) for r in db.query(_CONSTRAINTS, (table,))}
        adopted = {(r["name"], r["definition"]) for r in cli.query(_CONSTRAINTS, (table,))}
        assert fresh <= adopted, (table, fresh - adopted)
        assert {r["name"] for r in db.query(_INDEXES, (table,))} <= {
            r["name"] for r in cli.query(_INDEXES, (table,))
        }
        assert {r["name"] for r in db.query(_NOT_NULL, (table,))} <= {
            r["name"] for r in cli.query(_NOT_NULL, (table,))
        }


def test_serving_an_old_database_not_yet_adopted_stops_in_one_line(
    cli: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.query(LEGACY_SERIAL)
    cli.query(SEED_004)
    assert main(["serve", "--port", "18765"]) == 1  # stops before it listens
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--legacy-advisor" in error and "nothing changed" in error
