"""Behind a real PgBouncer in transaction mode (Supabase's port 6543 works this way).

Skipped where no `pgbouncer` binary is installed (Debian: `apt-get install pgbouncer`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.cli import main
from bot.settings import Settings
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeTwilio
from tests.pooler import NO_PGBOUNCER, transaction_pooler

pytestmark = NO_PGBOUNCER


@pytest.fixture
def pooler_url(database_url: str) -> Iterator[str]:
    with transaction_pooler(database_url) as url:
        yield url


def test_the_whole_loop_works_through_a_transaction_pooler(
    pooler_url: str, make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio
) -> None:
    db.add_advisor("Ana", "+14155238886")
    customers = [f"+5730011122{i:02d}" for i in range(4)]
    with TestClient(create_app(make_settings(database_url=pooler_url))) as client:
        # Many executions of the same statements: with server-side prepared statements, the
        # pooler would hand them to connections that never prepared them, and they would fail.
        for turn in range(4):
            for customer in customers:
                response = signed_post(client, inbound_form("+14155238886", customer, f"turno {turn}"))
                assert response.status_code == 200, response.text
            for customer in customers:
                wait_for(lambda c=customer, t=turn: len(fake_twilio.bodies_to(c)) == t + 1, timeout=30)
        settle(db)
        assert client.get("/readyz").status_code == 200
    for customer in customers:
        assert fake_twilio.bodies_to(customer) == [f"Respuesta a: turno {t}" for t in range(4)]


def test_upgrade_through_the_pooler_checks_but_never_migrates(
    pooler_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", pooler_url)
    assert main(["db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out
    Db(database_url).query("DELETE FROM advisor_bot_migrations WHERE version = 'procrastinate-schema'")
    try:
        assert main(["db", "upgrade"]) == 1
        assert "port 5432" in capsys.readouterr().err  # an error, so on stderr
    finally:
        Db(database_url).query("INSERT INTO advisor_bot_migrations (version) VALUES ('procrastinate-schema')")
