"""Shared fixtures: a real PostgreSQL, local fakes of Twilio and OpenAI, and a running app.

PostgreSQL is the embedded server (pgserver) unless ADVISOR_BOT_TEST_DATABASE_URL names one,
for example postgresql://postgres@127.0.0.1:5432/postgres. Either way the tests run in a
database of their own, created here and dropped at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.app import create_app
from bot.infra.database import Database, resolve_database
from bot.migrations import upgrade
from bot.settings import Settings
from tests.fakes import (
    FakeMediaHost,
    FakeOpenAI,
    FakeReceiver,
    FakeTwilio,
    echo_model,
    start_fake_media_host,
    start_fake_openai,
    start_fake_receiver,
    start_fake_twilio,
)

AUTH_TOKEN = "test-auth-token-0123456789"
ACCOUNT_SID = "AC" + "1" * 32
TEST_DB_ENV = "ADVISOR_BOT_TEST_DATABASE_URL"
# ADVISOR_BOT_LONG_TESTS=1: ten times the fuzz examples, four times the worker kills (not in CI).
LONG_TESTS = os.environ.get("ADVISOR_BOT_LONG_TESTS") == "1"
# How many times longer than on a quiet machine a wait may take before it counts as a failure.
# A wait only costs time when something is broken, so being generous keeps a loaded CI machine
# (seen: 12 s to start Python) from failing what works, without slowing a passing run.
PATIENCE = float(os.environ.get("ADVISOR_BOT_TEST_PATIENCE", "4"))


def fuzz_examples(short: int) -> int:
    """Hypothesis examples per fuzz test: `short` in the suite, ten times that in the long mode."""
    return short * 10 if LONG_TESTS else short


def _with_database(url: str, name: str) -> str:
    """Return `url` pointing at database `name`, for URLs and socket URIs alike."""
    return str(psycopg.conninfo.make_conninfo(url, dbname=name))


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    admin_url = os.environ.get(TEST_DB_ENV)
    server = None
    # Not under pytest's basetemp: a second pytest run deletes all but its three latest
    # basetemps, which would pull the data folder from under this session's server.
    folder = Path(tempfile.mkdtemp(prefix="advisor-bot-test-pg-"))
    if not admin_url:
        embedded = resolve_database(
            Settings(_env_file=None, embedded_data_dir=folder / "data")  # type: ignore[call-arg]
        )
        server, admin_url = embedded.keepalive, embedded.conninfo
    name = f"advisor_bot_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_database(admin_url, name)
    asyncio.run(upgrade(Database(conninfo=url, transaction_pooler=False)))
    yield url
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    if server is not None:
        server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


class Db:
    """Synchronous access to the test database, for arranging and checking state."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, text: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            cursor = conn.execute(text, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def add_advisor(
        self,
        name: str,
        twilio_number: str,
        *,
        phone: str = "+573009990000",
        active: bool = True,
        settings: str = "{}",
    ) -> str:
        row = self.query(
            "INSERT INTO advisors (name, phone_number, twilio_phone_number, is_active, settings) "
            "VALUES (%s, %s, %s, %s, %s::jsonb) RETURNING id",
            (name, phone, twilio_number, active, settings),
        )
        return str(row[0]["id"])

    def waiting_for_locks(self) -> int:
        """How many sessions of this database wait for a lock (pg_locks is the whole server's:
        a killed worker of an earlier test may still be waiting there)."""
        rows = self.query(
            "SELECT count(*) AS n FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(rows[0]["n"])

    def advisor_wrote_today(self, advisor_id: str) -> None:
        """The advisor wrote to their Twilio number just now, so their 24 h window is open.

        WhatsApp takes free-text notices to the advisor only inside it; outside, a notice needs
        the approved template (NOTICE_CONTENT_SID) or is not attempted.
        """
        self.query(
            "INSERT INTO advisor_channel (advisor_id, direction, body, status) "
            "VALUES (%s, 'inbound', '#ayuda', 'done') RETURNING id",
            (advisor_id,),
        )

    def add_customer(
        self,
        advisor_id: str,
        phone: str,
        *,
        name: str,
        labels: list[str],
        stage: str = "new",
        consent: bool = False,
        opted_out: bool = False,
        days_silent: int = 1,
    ) -> str:
        """A customer of `advisor_id` with a profile, silent for `days_silent`; their conversation id."""
        row = self.query(
            "INSERT INTO chat_history"
            " (advisor_id, phone_number, profile_name, opted_out, last_inbound_at, created_at)"
            " VALUES (%s, %s, %s, %s, now() - make_interval(days => %s), now() - make_interval(days => %s))"
            " RETURNING conversation_id",
            (advisor_id, phone, name, opted_out, days_silent, days_silent + 10),
        )
        conversation = str(row[0]["conversation_id"])
        self.query(
            "INSERT INTO customer_profiles (conversation_id, advisor_id, labels, stage, marketing_consent)"
            " VALUES (%s, %s, %s, %s, %s)",
            (conversation, advisor_id, json.dumps(labels), stage, consent),
        )
        return conversation

    def count(self, table: str) -> int:
        return int(self.query(f"SELECT count(*) AS n FROM {table}")[0]["n"])  # noqa: S608

    def outbound(self, advisor_id: str | None = None) -> list[dict[str, Any]]:
        where = "WHERE direction = 'outbound'" + (" AND advisor_id = %s" if advisor_id else "")
        return self.query(
            f"SELECT * FROM messages {where} ORDER BY id",  # noqa: S608
            (advisor_id,) if advisor_id else (),
        )

    def conversation(self, advisor_id: str, phone: str) -> dict[str, Any] | None:
        rows = self.query(
            "SELECT * FROM chat_history WHERE advisor_id = %s AND phone_number = %s",
            (advisor_id, phone),
        )
        return rows[0] if rows else None


_TABLES = (
    "knowledge_passages, knowledge_documents, customer_profiles, media_files, crm_contacts, "
    "conversation_mappings, customer_erasures, campaigns, "
    "conversation_notes, console_links, console_sessions, "
    "message_flags, drafts, conversation_summaries, handovers, advisor_tokens, advisor_channel, "
    "model_usage, stage_changes, messages, chat_history, advisors, "
    "procrastinate_jobs, "
    "advisor_bot_events, "
    "procrastinate_periodic_defers, "
    "running_servers, "
    "checkpoints, checkpoint_writes, checkpoint_blobs"
)


@pytest.fixture
def db(database_url: str) -> Iterator[Db]:
    database = Db(database_url)
    database.query(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
    yield database


@pytest.fixture
def fresh_database(database_url: str) -> Iterator[str]:
    """An empty database on the test server, as a new Supabase project has: no schema at all."""
    admin = psycopg.conninfo.make_conninfo(database_url, dbname="postgres")
    name = f"advisor_bot_fresh_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield psycopg.conninfo.make_conninfo(database_url, dbname=name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = start_fake_twilio()
    yield fake
    assert fake.server is not None
    fake.server.close()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = start_fake_openai()
    fake.behaviour = echo_model
    yield fake
    assert fake.server is not None
    fake.server.close()


@pytest.fixture
def receiver() -> Iterator[FakeReceiver]:
    """A system receiving our events (EVENT_WEBHOOK_URLS), with scripted failures."""
    fake = start_fake_receiver()
    yield fake
    assert fake.server is not None
    fake.server.close()


VOICE_NOTE = (Path(__file__).parent / "fixtures" / "audio" / "voice-note-es.ogg").read_bytes()


def hostport(url: str) -> str:
    """`host:port` of a URL, as the media host settings list them."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


@pytest.fixture
def media_host() -> Iterator[FakeMediaHost]:
    fake = start_fake_media_host()
    yield fake
    assert fake.server is not None
    fake.server.close()


@pytest.fixture
def twilio_media(fake_twilio: FakeTwilio, media_host: FakeMediaHost) -> dict[str, str]:
    """Twilio serving media ME1 (a real voice note) by redirecting to a CDN; the settings that allow both."""
    fake_twilio.media_redirect = media_host.url
    fake_twilio.auth_token = AUTH_TOKEN
    media_host.files["ME1"] = (VOICE_NOTE, "audio/ogg")
    return {"twilio_media_hosts": hostport(fake_twilio.url), "media_cdn_hosts": hostport(media_host.url)}


@pytest.fixture
def make_settings(
    database_url: str, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI, tmp_path: Path
) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "embedded_data_dir": tmp_path / "pgdata",
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": AUTH_TOKEN,
            "twilio_api_base_url": fake_twilio.url,
            "openai_api_key": "sk-test-not-a-real-key",
            "openai_base_url": fake_openai.url,
            "openai_model": "fake-model",
            "debounce_seconds": 0,
            "job_retry_base_seconds": 0,
            "database_timeout_seconds": 2,
            "log_level": "WARNING",
            # Loopback only: media URLs in Twilio's samples name api.twilio.com, never contacted.
            "twilio_media_hosts": "127.0.0.1:9",
            # Rate limits have their own test; elsewhere they would only make timing matter.
            "webhook_rate_limit": 0,
            "api_rate_limit": 0,
            "media_cdn_hosts": "127.0.0.1:9",
            # The hourly history job runs in every test app's worker: it must not turn the
            # years-silent customers tests make into historical ones at minute 23.
            "historical_after_days": 3650,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def client(settings: Settings, db: Db) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def sign(url: str, form: dict[str, str] | list[tuple[str, str]], token: str = AUTH_TOKEN) -> str:
    params: Any = form
    if isinstance(form, list):
        params = _MultiDict(form)
    return RequestValidator(token).compute_signature(url, params)


class _MultiDict(dict[str, str]):
    """Enough of a MultiDict for RequestValidator to sign repeated keys."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self._pairs = pairs

    def getall(self, key: str) -> list[str]:
        return [value for name, value in self._pairs if name == key]


def inbound_form(to: str, from_: str, body: str, *, sid: str | None = None, **extra: str) -> dict[str, str]:
    message_sid = sid or "SM" + uuid.uuid4().hex
    form = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "SmsStatus": "received",
        "NumMedia": "0",
        "MessageType": "text",
        "From": f"whatsapp:{from_}",
        "To": f"whatsapp:{to}",
        "MessageSid": message_sid,
        "SmsMessageSid": message_sid,
        "Body": body,
    }
    form.update(extra)
    return form


def signed_post(
    client: TestClient,
    form: dict[str, str],
    *,
    path: str = "/webhooks/twilio",
    token: str = AUTH_TOKEN,
    headers: dict[str, str] | None = None,
    base_url: str = "http://testserver",
) -> Any:
    url = f"{base_url}{path}"
    all_headers = {"X-Twilio-Signature": sign(url, form, token), **(headers or {})}
    return client.post(path, data=form, headers=all_headers)


def wait_for(predicate: Callable[[], Any], *, timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll until `predicate` is truthy; `timeout` is for a quiet machine and is scaled by PATIENCE."""
    timeout *= PATIENCE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def settle(db: Db, *, timeout: float = 15.0) -> None:
    """Wait until the queue holds no job that is due or running."""
    wait_for(
        lambda: (
            db.query(
                "SELECT count(*) AS n FROM procrastinate_jobs WHERE status IN ('todo', 'doing') "
                "AND task_name IN ('answer_conversation', 'deliver_conversation', 'send_advisor_notice')"
            )[0]["n"]
            == 0
        ),
        timeout=timeout,
        what="the queue to drain",
    )


def wait_until_all_answered(db: Db, *, timeout: float, what: str) -> None:
    """Wait until no customer message is unprocessed and no reply is still pending or sending."""
    wait_for(
        lambda: (
            db.query(
                "SELECT count(*) AS n FROM messages WHERE (direction = 'inbound' AND processed_at IS NULL) "
                "OR (direction = 'outbound' AND status IN ('pending', 'sending'))"
            )[0]["n"]
            == 0
        ),
        timeout=timeout,
        what=what,
    )


@pytest.fixture(scope="session")
def shared_samples() -> dict[str, dict[str, str]]:
    """Twilio's own payload samples (copied from shared/twilio), keyed by file stem."""
    import json

    folder = Path(__file__).parent / "fixtures" / "twilio"
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}
