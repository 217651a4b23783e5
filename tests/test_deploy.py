"""docs/deploy.md, followed: the deploy files' own commands, web and worker as on two machines.

A fresh database; the release step (`preDeployCommand` / Procfile `release:`) with the web
service's settings: DATABASE_URL through the transaction pooler, MIGRATION_DATABASE_URL direct.
Then the web's start command (pooler) and the worker's (direct connection) in separate processes
and directories; a text and a voice reply come back, and the voice note is fetched from the web
process. The signature check follows PUBLIC_BASE_URL, as behind a host's proxy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict

from bot.cli.simulate import signed_form
from bot.settings import Settings
from tests.conftest import AUTH_TOKEN, VOICE_NOTE, Db, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio
from tests.live import ROOT, free_port, process_environment
from tests.pooler import NO_PGBOUNCER, transaction_pooler

pytestmark = NO_PGBOUNCER

VOICE_ADVISOR, TEXT_ADVISOR = "+14155238886", "+14155238887"
METRICS_TOKEN = "metrics-token-0123456789"


def deploy_commands() -> dict[str, str]:
    """release, web and worker, as the Procfile says; Railway's files must say the same."""
    procfile = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()
    )
    web = json.loads((ROOT / "railway.json").read_text())["deploy"]
    worker = json.loads((ROOT / "railway.worker.json").read_text())["deploy"]
    assert web["preDeployCommand"] == [procfile["release"]]
    assert web["startCommand"] == procfile["web"]
    assert worker["startCommand"] == procfile["worker"]
    return procfile


def _shell(command: str, folder: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Run a deploy file's command as the host does: through a shell, in the app's folder."""
    folder.mkdir(exist_ok=True)
    log = (folder / "log").open("w")
    return subprocess.Popen(
        ["sh", "-c", command], cwd=folder, env=env, stdout=log, stderr=log, start_new_session=True
    )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each command's whole process group (the shell and what it started), as hosts do."""
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_the_deploy_guide_runs_web_and_worker_on_separate_machines_through_the_pooler(
    fresh_database: str,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    fake_twilio: FakeTwilio,
    fake_openai: FakeOpenAI,
) -> None:
    commands = deploy_commands()
    fake_openai.speech_audio = VOICE_NOTE
    port, worker_metrics = free_port(), free_port()
    public = f"http://localhost:{port}"  # the address Twilio calls; the process listens on 127.0.0.1
    bin_dir = str(Path(sys.executable).parent)  # where `advisor-bot` is installed

    def environment(folder: Path, **extra: str) -> dict[str, str]:
        env = process_environment(make_settings(), folder, PUBLIC_BASE_URL=public, **extra)
        return {**env, "PATH": bin_dir + os.pathsep + env["PATH"], "PORT": str(port)}

    with transaction_pooler(fresh_database) as pooler:
        assert conninfo_to_dict(fresh_database)["dbname"] in pooler
        web_env = environment(tmp_path / "web", DATABASE_URL=pooler, MIGRATION_DATABASE_URL=fresh_database)
        # Through the pooler alone, the release step refuses to build the AI memory's indexes.
        refused = subprocess.run(
            ["sh", "-c", commands["release"]],
            env={**web_env, "MIGRATION_DATABASE_URL": ""},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 1 and "5432" in refused.stderr, refused.stderr
        release = subprocess.run(
            ["sh", "-c", commands["release"]],
            env=web_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert release.returncode == 0, release.stderr
        assert "applied:" in release.stdout
        with psycopg.connect(fresh_database, autocommit=True) as conn:  # the admins' SQL seed
            conn.execute(
                "INSERT INTO advisors (name, phone_number, twilio_phone_number, is_active, settings) VALUES "
                "('Ana', '+573009990001', %s, true, '{\"audio_default\": true}'), "
                "('Bruno', '+573009990002', %s, true, '{}')",
                (VOICE_ADVISOR, TEXT_ADVISOR),
            )
        processes = [
            _shell(commands["web"], tmp_path / "web", web_env),
            _shell(
                commands["worker"],
                tmp_path / "worker",
                environment(
                    tmp_path / "worker",
                    DATABASE_URL=fresh_database,
                    WORKER_METRICS_PORT=str(worker_metrics),
                    METRICS_TOKEN=METRICS_TOKEN,
                ),
            ),
        ]
        try:
            wait_for(lambda: _ready(f"http://127.0.0.1:{port}"), timeout=60, what="the web process")
            local = f"http://127.0.0.1:{port}/webhooks/twilio"
            # Signed for the address Twilio calls, received at another: accepted (PUBLIC_BASE_URL).
            assert _post(local, f"{public}/webhooks/twilio", VOICE_ADVISOR, "+573001112233", "Hola") == 200
            assert (
                _post(local, f"{public}/webhooks/twilio", TEXT_ADVISOR, "+573001112244", "Hola Bruno") == 200
            )
            # Signed for the address the process sees: what a wrong PUBLIC_BASE_URL looks like.
            assert _post(local, local, TEXT_ADVISOR, "+573001112255", "Hola") == 403
            wait_for(lambda: fake_twilio.bodies_to("+573001112244"), timeout=60, what="the text reply")
            assert fake_twilio.bodies_to("+573001112244") == ["Respuesta a: Hola Bruno"]
            wait_for(lambda: fake_twilio.media_fetches, timeout=60, what="Twilio fetching the voice note")
            url, status, data = fake_twilio.media_fetches[0]
            assert url.startswith(f"{public}/media/") and status == 200 and data == VOICE_NOTE
            # The worker's own /metrics, for a worker on a machine of its own.
            scrape = f"http://127.0.0.1:{worker_metrics}/metrics"
            assert httpx.get(scrape, timeout=5).status_code == 401
            answered = _sample(
                httpx.get(scrape, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5).text,
                'advisor_bot_jobs_total{outcome="answered",task="answer_conversation"}',
            )
            assert answered == 2
        finally:
            _stop(processes)
    logs = (tmp_path / "web" / "log").read_text() + (tmp_path / "worker" / "log").read_text()
    assert AUTH_TOKEN not in logs


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _post(address: str, signed_for: str, to: str, customer: str, text: str) -> int:
    form, signature = signed_form(url=signed_for, auth_token=AUTH_TOKEN, to=to, from_=customer, text=text)
    response = httpx.post(address, data=form, headers={"X-Twilio-Signature": signature}, timeout=10)
    return response.status_code


def _sample(exposition: str, name: str) -> float:
    """One sample's value in a Prometheus text exposition (0 when absent)."""
    for line in exposition.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_serve_with_several_web_processes_shares_only_the_database_and_adds_up_metrics(
    db: Db, database_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    db.add_advisor("Ana", VOICE_ADVISOR)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = process_environment(make_settings(), tmp_path, DATABASE_URL=database_url)
    server = _shell(
        f"{sys.executable} -m bot.cli serve --no-worker --workers 2 --port {port}", tmp_path / "web", env
    )
    try:
        wait_for(lambda: _ready(base), timeout=60, what="the web processes")
        serving = [pid for pid in _descendants(server.pid) if b"spawn_main" in _cmdline(pid)]
        assert len(serving) == 2
        url = f"{base}/webhooks/twilio"
        for n in range(12):
            assert _post(url, url, VOICE_ADVISOR, f"+5730011122{n:02d}", f"hola {n}") == 200
        stored = db.query("SELECT count(*) AS n FROM messages WHERE direction = 'inbound'")[0]["n"]
        assert stored == 12
        # Whichever process answers the scrape, it counts every process's requests.
        for _ in range(4):
            text = httpx.get(f"{base}/metrics", timeout=5).text
            assert _sample(text, 'advisor_bot_webhook_requests_total{status="200"}') == 12
    finally:
        _stop([server])


def _descendants(pid: int) -> list[int]:
    """Every process started under `pid` (Linux's /proc)."""
    children = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return children + [grandchild for child in children for grandchild in _descendants(child)]


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()
