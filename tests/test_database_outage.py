"""PostgreSQL is stopped while customers write, then started again.

A PostgreSQL server of this test's own (pgserver's binaries, a fresh data folder) is really
stopped with `pg_ctl stop -m fast` while the app (web + in-process worker) is answering. While
it is down the webhook answers 503 with Retry-After, so Twilio retries; once it is back, the
messages accepted before the stop and the retried ones are all answered, each exactly once.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.infra.database import Database
from bot.migrations import upgrade
from bot.settings import Settings
from tests.conftest import Db, inbound_form, signed_post, wait_for, wait_until_all_answered
from tests.fakes import FakeOpenAI, FakeTwilio

ADVISOR_NUMBER = "+14155238886"


class StoppablePostgres:
    """A private PostgreSQL server that a test may stop and start like an operator would."""

    def __init__(self, folder: Path) -> None:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (CI)
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import get_server

            self.server: Any = get_server(folder, cleanup_mode="delete")
        self.url = str(self.server.get_uri())

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()
        assert self.server.get_uri() == self.url

    def close(self) -> None:
        self.server.cleanup()


@pytest.fixture
def stoppable_postgres() -> Iterator[StoppablePostgres]:
    # Outside pytest's own temporary folder, like the suite's embedded server: a second pytest
    # session makes that folder private again, and pgserver runs PostgreSQL as another user.
    folder = Path(tempfile.mkdtemp(prefix="advisor-bot-outage-pg-"))
    postgres = StoppablePostgres(folder / "pgdata")
    asyncio.run(upgrade(Database(conninfo=postgres.url, transaction_pooler=False)))
    yield postgres
    postgres.close()
    shutil.rmtree(folder, ignore_errors=True)


def _post(client: TestClient, customer: str, text: str, sid: str) -> Any:
    return signed_post(client, inbound_form(ADVISOR_NUMBER, customer, text, sid=sid))


def test_stopped_postgres_means_503_then_every_message_is_answered_once(
    stoppable_postgres: StoppablePostgres,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    make_settings: Any,
) -> None:
    db = Db(stoppable_postgres.url)
    db.add_advisor("Ana", ADVISOR_NUMBER)
    settings: Settings = make_settings(
        database_url=stoppable_postgres.url,
        database_timeout_seconds=1,
        worker_heartbeat_seconds=0.5,
        stalled_worker_seconds=2,
    )
    fake_openai.latency = 0.3  # replies are still being written when the database goes away
    texts: dict[str, str] = {}
    with TestClient(create_app(settings)) as client:
        for n in range(8):
            sid = f"SMbefore{n:026d}"
            texts[sid] = f"antes {n}"
            assert _post(client, f"+57300100{n:04d}", texts[sid], sid).status_code == 200
        time.sleep(0.2)
        stoppable_postgres.stop()
        refused: list[tuple[str, str, str]] = []
        for n in range(4):
            sid = f"SMduring{n:026d}"
            customer, text = f"+57300200{n:04d}", f"durante {n}"
            response = _post(client, customer, text, sid)
            assert response.status_code == 503, response.text
            assert int(response.headers["Retry-After"]) > 0
            refused.append((customer, text, sid))
        assert client.get("/readyz").status_code == 503
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(stoppable_postgres.url, connect_timeout=2).close()
        time.sleep(2)  # the worker keeps failing for a while

        stoppable_postgres.start()
        wait_for(lambda: client.get("/readyz").status_code == 200, timeout=30, what="readiness again")
        for customer, text, sid in refused:  # Twilio's retry of what was refused
            texts[sid] = text
            assert _post(client, customer, text, sid).status_code == 200
        for n in range(4):
            sid = f"SMafter{n:027d}"
            texts[sid] = f"despues {n}"
            assert _post(client, f"+57300300{n:04d}", texts[sid], sid).status_code == 200

        wait_until_all_answered(
            db, timeout=90, what="every accepted message to be answered after the restart"
        )

    inbound = db.query("SELECT twilio_sid, status FROM messages WHERE direction = 'inbound'")
    assert sorted(row["twilio_sid"] for row in inbound) == sorted(texts)
    assert {row["status"] for row in inbound} == {"answered"}
    with fake_twilio.lock:
        bodies = [message.body for message in fake_twilio.sent]
    for text in texts.values():
        assert len([b for b in bodies if re.search(rf"{re.escape(text)}(?!\d)", b)]) == 1, (text, bodies)
    assert len(bodies) == len(texts)
