"""The `advisor-bot` command line, run as users run it, against the real database."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.cli import main
from bot.migrations import migration_files
from bot.settings import Settings
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, Db, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio
from tests.live import LiveServer, free_port


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    return tmp_path


def test_db_upgrade_twice_is_a_no_op(
    cli_env: Path, fresh_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    assert main(["db", "upgrade"]) == 0
    first = capsys.readouterr().out
    assert "0001_core" in first and "procrastinate-schema" in first
    # Files after the queue's schema build on its tables (0015 indexes the queue's lock check).
    assert first.index("procrastinate-schema") < first.index("0015_queue_fetch_index")
    fresh = Db(fresh_database)
    assert fresh.query("SELECT 1 FROM pg_indexes WHERE indexname = 'idx_procrastinate_jobs_waiting_lock'")
    versions = fresh.query("SELECT version, applied_at FROM advisor_bot_migrations ORDER BY version")
    assert main(["db", "upgrade"]) == 0
    assert "nothing to apply" in capsys.readouterr().out
    assert fresh.query("SELECT version, applied_at FROM advisor_bot_migrations ORDER BY version") == versions
    rls = fresh.query(
        "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace "
        "AND NOT relrowsecurity"
    )
    assert rls == []


@pytest.mark.parametrize("count", ["0", "-2"])
def test_worker_refuses_fewer_than_one_process_in_one_line(
    count: str, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["worker", "--processes", count]) == 2
    assert capsys.readouterr().err == f"error: --processes {count}: at least 1\n"


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_serve_refuses_a_port_that_is_not_one_in_one_line(
    port: str, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the audit: `--port 99999` listened on 34463 (the OS takes it modulo 65536)."""
    assert main(["serve", "--port", port]) == 2
    error = capsys.readouterr().err
    assert error == f"error: --port {port} is not a port: use 1 to 65535\n"


def test_serve_on_a_port_in_use_ends_at_once_in_one_line(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the audit: it started the database and the app, then ended in uvicorn's traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"127.0.0.1:{port} cannot be listened on" in error
    assert "in use" in error and "--port" in error


def test_worker_refuses_a_metrics_port_in_use_before_starting(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # noqa: S104 - as the worker binds it
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("WORKER_METRICS_PORT", str(port))
        assert main(["worker"]) == 2
    error = capsys.readouterr().err
    assert f"WORKER_METRICS_PORT {port} cannot be used" in error and "in use" in error


def test_db_upgrade_from_several_processes_at_once(cli_env: Path, fresh_database: str) -> None:
    env = {**os.environ, "DATABASE_URL": fresh_database, "LOG_LEVEL": "WARNING"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "db", "upgrade"],
            env=env,
            cwd=Path(__file__).resolve().parents[3],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], outputs
    applied = [out.decode() for out, _ in outputs if b"applied:" in out]
    assert len(applied) == 1
    # Ours, procrastinate's schema, the checkpointer's schema as set up by the installed version,
    # and the one copy of the memory's summaries into the records.
    assert Db(fresh_database).count("advisor_bot_migrations") == len(migration_files()) + 3


def test_db_seed_runs_the_plain_insert_seed(
    cli_env: Path, db: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "seed"]) == 0
    assert "7 advisors added" in capsys.readouterr().out
    rows = db.query("SELECT name, twilio_phone_number, is_active FROM advisors ORDER BY twilio_phone_number")
    assert len(rows) == 7
    assert rows[0] == {"name": "Ana Gómez", "twilio_phone_number": "+14155238886", "is_active": True}
    assert main(["db", "seed", "--if-empty"]) == 0
    assert "seed skipped" in capsys.readouterr().out
    assert db.count("advisors") == 7


def test_db_seed_runs_an_admins_own_file(cli_env: Path, db: Db, capsys: pytest.CaptureFixture[str]) -> None:
    seed = cli_env / "nuevos.sql"
    seed.write_text(
        "INSERT INTO advisors (name, phone_number, twilio_phone_number, is_active) VALUES\n"
        "    ('Laura Méndez', '+57 310 555 0101', '+1 415 555 0101', true),\n"
        "    ('Inactivo', '+573105550102', '+14155550102', false);\n"
    )
    assert main(["db", "seed", str(seed)]) == 0
    assert "2 advisors added" in capsys.readouterr().out
    rows = db.query("SELECT name, phone_number, twilio_phone_number FROM advisors ORDER BY name")
    assert rows == [
        {"name": "Inactivo", "phone_number": "+573105550102", "twilio_phone_number": "+14155550102"},
        {"name": "Laura Méndez", "phone_number": "+573105550101", "twilio_phone_number": "+14155550101"},
    ]


def test_a_failing_seed_changes_nothing(cli_env: Path, db: Db, capsys: pytest.CaptureFixture[str]) -> None:
    seed = cli_env / "roto.sql"
    seed.write_text(
        "INSERT INTO advisors (name, phone_number, twilio_phone_number)\n"
        "    VALUES ('A', '+5731', '+14155550101');\n"
        "INSERT INTO advisors (name, phone_number, twilio_phone_number)\n"
        "    VALUES ('B', '+5732', '+14155550101');\n"
    )
    assert main(["db", "seed", str(seed)]) == 1
    assert "nothing changed" in capsys.readouterr().err
    assert db.count("advisors") == 0
    assert main(["db", "seed", str(cli_env / "missing.sql")]) == 1


def test_simulate_posts_a_signed_message_and_prints_the_reply(
    cli_env: Path,
    db: Db,
    settings: object,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db.add_advisor("Ana Gómez", "+14155238886")
    port = free_port()
    with LiveServer(settings, port):  # type: ignore[arg-type]
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        code = main(
            [
                "simulate",
                "--port",
                str(port),
                "--to",
                "whatsapp:+14155238886",
                "--from",
                "+57 300 111 2233",
                "¿Tienen apartamentos?",
            ]
        )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "webhook answered 200" in out
    # The reply as stored when simulate read it: its delivery status is however far the worker got.
    assert re.search(r"Ana Gómez \(ai, (queued|sending|sent)\): Respuesta a: ¿Tienen apartamentos\?", out), (
        out
    )
    assert fake_twilio.bodies_to("+573001112233") == ["Respuesta a: ¿Tienen apartamentos?"]


def test_simulate_explains_an_unknown_number(
    cli_env: Path, db: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--to", "+14155239999", "--from", "+573001112233", "hola"]) == 1
    out = capsys.readouterr()
    assert "no advisor owns +14155239999" in out.err
    assert "webhook answered" not in out.out  # it stops before posting anything
    assert db.count("messages") == 0


def test_a_separate_worker_process_answers_what_a_web_only_server_accepted(
    cli_env: Path,
    db: Db,
    make_settings: object,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
    database_url: str,
) -> None:
    from starlette.testclient import TestClient

    from tests.conftest import inbound_form, signed_post

    db.add_advisor("Ana", "+14155238886")
    settings = make_settings()  # type: ignore[operator]
    with TestClient(create_app(settings, run_worker=False)) as client:
        assert signed_post(client, inbound_form("+14155238886", "+573001112233", "Hola")).status_code == 200
        assert client.get("/readyz").json()["worker"] == "absent"
    time.sleep(0.3)
    assert fake_twilio.sent == []
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": fake_twilio.url,
        "OPENAI_API_KEY": "sk-test-not-a-real-key",
        "OPENAI_BASE_URL": fake_openai.url,
        "LOG_LEVEL": "WARNING",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker"],
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: fake_twilio.sent, timeout=30, what="the worker's reply")
    finally:
        worker.send_signal(2)  # SIGINT: the worker stops cleanly
        output = worker.communicate(timeout=30)[0].decode()
    assert worker.returncode == 0, output
    assert fake_twilio.bodies_to("+573001112233") == ["Respuesta a: Hola"]


def _like_supabase(url: str) -> Db:
    """The database as Supabase makes it: anon and authenticated get every new table by default."""
    fresh = Db(url)
    fresh.query(
        "DO $$ BEGIN "
        "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon; END IF; "
        "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') "
        "THEN CREATE ROLE authenticated; END IF; END $$"
    )
    fresh.query("GRANT USAGE ON SCHEMA public TO anon, authenticated")
    fresh.query("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated")
    return fresh


def test_supabase_public_roles_cannot_read_chat_history(
    cli_env: Path, fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on Supabase: anon/authenticated get default privileges on new tables; upgrade takes them away."""
    _like_supabase(fresh_database)
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "seed"]) == 0
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        for role in ("anon", "authenticated"):
            for table in ("advisors", "chat_history", "messages", "checkpoints", "procrastinate_jobs"):
                conn.execute(f"SET ROLE {role}")
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"SELECT * FROM {table}")  # noqa: S608
                conn.execute("RESET ROLE")
        # Even if someone grants the privilege back, row-level security shows no row.
        conn.execute("GRANT SELECT ON advisors TO anon")
        conn.execute("SET ROLE anon")
        assert conn.execute("SELECT count(*) FROM advisors").fetchone() == (0,)
        conn.execute("RESET ROLE")
        # The server's own connection (the owner) reads as before.
        assert conn.execute("SELECT count(*) FROM advisors").fetchone() == (7,)


def test_simulate_prints_the_answer_to_an_advisors_command(
    cli_env: Path,
    db: Db,
    settings: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db.add_advisor("Ana Gómez", "+14155238886", phone="+573005550001")
    port = free_port()
    with LiveServer(settings, port):  # type: ignore[arg-type]
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        code = main(
            [
                "simulate",
                "--url",
                f"http://127.0.0.1:{port}/webhooks/twilio",
                "--to",
                "+14155238886",
                "--from",
                "+573005550001",
                "#lista",
            ]
        )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Ana Gómez (command reply): Nadie espera a un humano ahora mismo." in out


def test_seeds_accept_the_documented_forms_and_refuse_guesses_and_conflicts(
    cli_env: Path, db: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    documented = cli_env / "formas.sql"
    documented.write_text(
        "INSERT INTO advisors (name, phone_number, twilio_phone_number) VALUES\n"
        "    ('Con prefijo', '+57 (310) 555-0101', 'whatsapp:+14155550102'),\n"
        "    ('Internacional', '0057 310 555 0102', 'WhatsApp: +1 415 555 0103');\n"
    )
    assert main(["db", "seed", str(documented)]) == 0, capsys.readouterr().err
    rows = db.query("SELECT name, phone_number, twilio_phone_number FROM advisors ORDER BY name")
    assert rows == [
        {"name": "Con prefijo", "phone_number": "+573105550101", "twilio_phone_number": "+14155550102"},
        {"name": "Internacional", "phone_number": "+573105550102", "twilio_phone_number": "+14155550103"},
    ]
    capsys.readouterr()
    refused = {
        "sin país": (
            "('Sin país', '+573105550104', '310 555 0103')",
            'advisor "Sin país": twilio_phone_number "310 555 0103" has no country code',
        ),
        "letras": ("('Letras', '+573105550105', '+1 415 CALL NOW')", "is not a phone number"),
        "ajeno": (
            "('Ajeno', '+573105550106', '+573105550101')",
            'twilio_phone_number +573105550101 is the personal phone of advisor "Con prefijo"',
        ),
        "propio": ("('Propio', '+14155550107', '+14155550107')", "are both +14155550107"),
        "al revés": (
            "('Al revés', '+14155550102', '+14155550108')",
            'phone_number +14155550102 is the Twilio number of advisor "Con prefijo"',
        ),
    }
    for name, (values, reason) in refused.items():
        seed = cli_env / f"{name}.sql"
        seed.write_text(f"INSERT INTO advisors (name, phone_number, twilio_phone_number) VALUES {values};\n")
        assert main(["db", "seed", str(seed)]) == 1, name
        err = capsys.readouterr().err
        assert "nothing changed" in err and reason in err, err
    assert db.count("advisors") == 2


@pytest.mark.parametrize(
    ("arrange", "reason"),
    [
        ("UPDATE advisors SET is_active = false", "Ana Gómez is inactive, so the server ignores messages"),
        ("UPDATE chat_history SET opted_out = true", "+573001112233 opted out"),
        ("UPDATE chat_history SET ai_attention = false", "the AI is switched off for +573001112233"),
    ],
)
def test_simulate_says_the_real_reason_no_reply_came(
    cli_env: Path,
    db: Db,
    settings: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_twilio: FakeTwilio,
    arrange: str,
    reason: str,
) -> None:
    advisor = db.add_advisor("Ana Gómez", "+14155238886")
    db.query(
        "INSERT INTO chat_history (advisor_id, phone_number, last_inbound_at) VALUES (%s, %s, now())",
        (advisor, "+573001112233"),
    )
    db.query(arrange)
    port = free_port()
    with LiveServer(settings, port):  # type: ignore[arg-type]
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        argv = ["simulate", "--port", str(port), "--timeout", "3", "--to", "+14155238886"]
        code = main([*argv, "--from", "+573001112233", "hola"])
    err = capsys.readouterr().err  # the server's own log lines come first
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1
    assert line.startswith("error: no reply within 3 s: ") and reason in line, err
    assert fake_twilio.sent == []


def test_every_table_is_locked_down_after_start_up_with_every_optional_feature_on(
    fresh_database: str, make_settings: Callable[..., Settings]
) -> None:
    """Issue 23, finding 5: tables made at start (embeddings) are locked down like the others."""
    if not Db(fresh_database).query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"):
        pytest.skip("this PostgreSQL has no pgvector (the embedded default has it)")
    fresh = _like_supabase(fresh_database)
    settings = make_settings(database_url=fresh_database, openai_embedding_model="fake-embedding")
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
    tables = fresh.query(
        "SELECT c.relname, c.relrowsecurity, "
        " has_table_privilege('anon', c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE') AS anon, "
        " has_table_privilege('authenticated', c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE') AS authed "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
    )
    names = {row["relname"] for row in tables}
    assert {"knowledge_embeddings", "chat_history", "checkpoints", "procrastinate_jobs"} <= names
    exposed = [row["relname"] for row in tables if not row["relrowsecurity"] or row["anon"] or row["authed"]]
    assert exposed == []


def test_db_upgrade_copies_the_summaries_already_in_the_ais_memory_into_the_records(
    cli_env: Path,
    db: Db,
    make_settings: Callable[..., Settings],
    fake_twilio: FakeTwilio,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Memories folded before sql/0026 hold their summary only in the checkpoints: copied once."""
    from tests.conftest import inbound_form, settle, signed_post

    ana = db.add_advisor("Ana", "+14155238886")
    with TestClient(create_app(make_settings(ai_memory_tokens=256))) as client:
        for n in range(6):
            text = f"mensaje {n}: busco apartamento en Envigado con balcón, " + "detalle " * 30
            assert signed_post(client, inbound_form("+14155238886", "+573001112233", text)).status_code == 200
            settle(db)
    kept = db.query("SELECT summary, through_message_id FROM conversation_summaries")
    assert kept, "the worker keeps the summary with the records"
    # As a database upgraded before sql/0026 is: the memory has the summary, the records not yet.
    db.query("DELETE FROM conversation_summaries")
    db.query("DELETE FROM advisor_bot_migrations WHERE version = '0026-summaries-from-checkpoints'")
    assert main(["db", "upgrade"]) == 0
    assert "0026-summaries-from-checkpoints (1 copied)" in capsys.readouterr().out
    assert db.query("SELECT summary, through_message_id FROM conversation_summaries") == kept
    assert db.query("SELECT advisor_id::text AS a FROM conversation_summaries") == [{"a": ana}]
