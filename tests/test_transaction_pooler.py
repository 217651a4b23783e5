"""Behind a real PgBouncer in transaction mode (Supabase's port 6543 works this way).

Skipped where no `pgbouncer` binary is installed (Debian: `apt-get install pgbouncer`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.cli import main
from bot.settings import Settings
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeTwilio

PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
)
pytestmark = pytest.mark.skipif(PGBOUNCER is None, reason="pgbouncer is not installed")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def pooler_url(database_url: str) -> Iterator[str]:
    target = psycopg.conninfo.conninfo_to_dict(database_url)
    # Not pytest's tmp_path: that is private to root, and PgBouncer runs as another user.
    folder = Path(tempfile.mkdtemp(prefix="advisor-bot-pgbouncer-"))
    port = _free_port()
    user = str(target.get("user") or "postgres")
    host = str(target.get("host") or "127.0.0.1")
    server_port = str(target.get("port") or "5432")
    (folder / "users.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n{target['dbname']} = host={host} port={server_port} "
        f"dbname={target['dbname']} user={user}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder}/users.txt\n"
        "pool_mode = transaction\nmax_client_conn = 200\ndefault_pool_size = 8\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"logfile = {folder}/pgbouncer.log\n"
    )
    command = [str(PGBOUNCER), str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        # Over a Unix socket, run as the owner of its folder (the embedded server's user).
        owner = pwd.getpwuid(Path(host).stat().st_uid).pw_name if host.startswith("/") else None
        candidates = [owner] if owner and owner != "root" else ["postgres", "nobody"]
        runner = next((name for name in candidates if _user_exists(name)), None)
        if runner is None:
            pytest.skip("no unprivileged user to run pgbouncer as")
        os.chmod(folder, 0o777)
        for path in folder.iterdir():
            os.chmod(path, 0o666)
        command = ["runuser", "-u", runner, "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"postgresql://{user}@127.0.0.1:{port}/{target['dbname']}?pgbouncer=true"
    try:
        wait_for(lambda: _reachable(url), timeout=15, what="pgbouncer to accept connections")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        shutil.rmtree(folder, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url.replace("?pgbouncer=true", ""), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        time.sleep(0.1)
        return False
    return True


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
