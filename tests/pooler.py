"""A real PgBouncer in transaction mode in front of a test database (Supabase's port 6543 works
this way), for the tests that run the app behind one. Debian: `apt-get install pgbouncer`."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import wait_for
from tests.live import free_port

PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
)
NO_PGBOUNCER = pytest.mark.skipif(PGBOUNCER is None, reason="pgbouncer is not installed")


@contextlib.contextmanager
def transaction_pooler(database_url: str) -> Iterator[str]:
    """Run PgBouncer (transaction mode) in front of `database_url`; yield its `?pgbouncer=true` URL."""
    assert PGBOUNCER is not None
    target = psycopg.conninfo.conninfo_to_dict(database_url)
    # Not pytest's tmp_path: that is private to root, and PgBouncer runs as another user.
    folder = Path(tempfile.mkdtemp(prefix="advisor-bot-pgbouncer-"))
    port = free_port()
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
