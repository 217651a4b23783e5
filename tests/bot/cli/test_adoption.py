"""Moving a business onto advisor-bot: `db upgrade` on a database that already has its tables.

The move plan of the old one-advisor bot (its seed 004) creates `advisors` with the contract
columns and no `settings`; upgraded as it was, the schema was left half made and every webhook
answered 500. Driven as the business would: their SQL, then `advisor-bot db upgrade --dry-run`,
then the upgrade, then Twilio's webhook.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.cli import main
from bot.settings import Settings
from tests.conftest import Db, inbound_form, signed_post, wait_for
from tests.fakes import FakeTwilio

# Seed 004's first block, as the issue describes it: the advisors table of the move plan.
SEED_004_ADVISORS = """
CREATE TABLE IF NOT EXISTS advisors (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(100) NOT NULL,
    phone_number VARCHAR(20) NOT NULL,
    twilio_phone_number VARCHAR(20) UNIQUE NOT NULL,
    is_active BOOLEAN DEFAULT true,
    created_at TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX IF NOT EXISTS idx_advisors_twilio_phone ON advisors (twilio_phone_number);
INSERT INTO advisors (name, phone_number, twilio_phone_number, is_active)
VALUES ('Ana Gómez', '+573001234567', '+14155238886', true);
"""


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


def test_an_old_chat_history_stops_the_upgrade_in_one_line_that_does_not_say_to_run_it_again(
    cli: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.query(
        "CREATE TABLE chat_history (id serial PRIMARY KEY, conversation_id text, phone_number text, "
        "ai_attention boolean, audio_available boolean, created_at timestamptz DEFAULT now())"
    )
    cli.query(
        "INSERT INTO chat_history (conversation_id, phone_number) VALUES ('c1', 'whatsapp:+573001112233')"
    )
    assert main(["db", "upgrade"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "chat_history" in error and "run `advisor-bot db upgrade`" not in error
    assert cli.query("SELECT count(*) AS n FROM chat_history")[0]["n"] == 1  # nothing lost
    assert cli.query("SELECT to_regclass('advisor_bot_migrations') IS NULL AS none")[0]["none"]
