"""Advisor administration without SQL, and what a deactivation or revocation does to the API.

Each process caches advisors and valid tokens; these tests show a change made from outside (the
CLI, or plain SQL as an admin would) is felt by a running server within seconds, far inside the
caches' lifetimes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.cli import main
from bot.settings import Settings
from tests.conftest import Db, inbound_form, settle, signed_post, wait_for
from tests.fakes import FakeTwilio

ANA, BRUNO, CUSTOMER = "+14155238886", "+14155238887", "+573001112233"
ADMIN = "admin-token-for-tests-0123456789"


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: Db, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def api(make_settings: Callable[..., Settings], db: Db) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(admin_token=ADMIN))) as client:
        yield client


def _token(cli: Callable[..., tuple[int, str, str]], ref: str, *extra: str) -> str:
    code, out, err = cli("advisors", "token", ref, *extra)
    assert code == 0, err
    return out.strip().splitlines()[-1]


def _answers(api: TestClient, token: str) -> int:
    return api.get("/api/conversations", headers={"Authorization": f"Bearer {token}"}).status_code


def test_admins_add_list_deactivate_and_activate_advisors(
    cli: Callable[..., tuple[int, str, str]], db: Db
) -> None:
    code, out, _ = cli(
        "advisors",
        "add",
        "--name",
        "Ana",
        "--phone",
        "+57 300 555 0001",
        "--twilio-number",
        f"whatsapp:{ANA}",
    )
    assert code == 0 and "customers write to +14155238886" in out
    code, out, _ = cli("advisors", "list")
    assert code == 0
    assert "+14155238886" in out and "+573005550001" in out and " yes " in out
    code, _, err = cli(
        "advisors", "add", "--name", "Otra", "--phone", "+573005550002", "--twilio-number", ANA
    )
    assert code == 1 and "already belongs to another advisor" in err
    code, _, err = cli(
        "advisors", "add", "--name", "Sin país", "--phone", "310 555 0103", "--twilio-number", BRUNO
    )
    assert code == 1 and '"Sin país": phone_number "310 555 0103" has no country code' in err
    assert db.count("advisors") == 1
    code, out, _ = cli("advisors", "deactivate", ANA)
    assert code == 0 and "is inactive" in out
    assert db.query("SELECT is_active FROM advisors")[0]["is_active"] is False
    code, out, _ = cli("advisors", "deactivate", ANA)
    assert "already inactive" in out
    code, out, _ = cli("advisors", "activate", ANA)
    assert code == 0 and "active again" in out
    code, _, err = cli("advisors", "activate", "+14155550000")
    assert code == 1 and "no advisor '+14155550000'" in err


def test_tokens_are_listed_without_secrets_and_revoked_by_id(
    cli: Callable[..., tuple[int, str, str]], db: Db, api: TestClient
) -> None:
    db.add_advisor("Ana", ANA, phone="+573005550001")
    first = _token(cli, ANA, "--label", "crm")
    code, out, _ = cli("advisors", "token", ANA)
    second = out.strip().splitlines()[-1]
    assert "already has 1 live token(s) (ids 1)" in out
    assert _answers(api, first) == _answers(api, second) == 200
    code, out, _ = cli("advisors", "tokens", "list")
    assert code == 0
    assert first not in out and second not in out
    stored = db.query("SELECT token_sha256 FROM advisor_tokens")
    assert all(row["token_sha256"] not in out for row in stored)
    lines = out.strip().splitlines()
    assert "last used" in lines[0] and len(lines) == 3
    assert "crm" in lines[1] and lines[1].split()[3] != "-"  # used just now
    code, out, _ = cli("advisors", "tokens", "revoke", "1")
    assert code == 0 and "token 1 revoked" in out
    code, _, err = cli("advisors", "tokens", "revoke", "1")
    assert code == 1 and "no live token with id 1" in err
    # The server had the first token cached as valid; the revocation reaches it within seconds.
    wait_for(lambda: _answers(api, first) == 401, timeout=5, what="the revoked token to be refused")
    assert _answers(api, second) == 200


def test_a_deactivated_advisor_is_locked_out_at_once_and_cannot_get_a_token(
    cli: Callable[..., tuple[int, str, str]], db: Db, api: TestClient, fake_twilio: FakeTwilio
) -> None:
    ana = db.add_advisor("Ana", ANA, phone="+573005550001")
    token = _token(cli, ANA)
    signed_post(api, inbound_form(ANA, CUSTOMER, "Hola"))
    wait_for(lambda: fake_twilio.sent, what="the AI's reply")
    settle(db)
    conversation = str(db.conversation(ana, CUSTOMER)["conversation_id"])  # type: ignore[index]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get(f"/api/conversations/{conversation}", headers=headers).status_code == 200
    # An admin deactivates in plain SQL, as the probe did: the token is refused within seconds,
    # although the server cached it as valid a moment ago.
    db.query("UPDATE advisors SET is_active = false WHERE id = %s", (ana,))
    started = time.monotonic()
    wait_for(lambda: _answers(api, token) == 401, timeout=5, what="the token to be refused")
    assert time.monotonic() - started < 5
    sent = api.post(f"/api/conversations/{conversation}/messages", json={"text": "hola"}, headers=headers)
    assert sent.status_code == 401
    # Not even the admin sends from a deactivated advisor's number.
    as_admin = api.post(
        f"/api/conversations/{conversation}/messages",
        json={"text": "hola"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert as_admin.status_code == 409 and "deactivated" in as_admin.json()["detail"]
    code, _, err = cli("advisors", "token", ANA)
    assert code == 1 and "is inactive" in err
    assert len(fake_twilio.sent) == 1
    # Any deactivation, the plain SQL one included, revoked the tokens: reactivation does not
    # bring them back (issue 23, finding 9); a new token works.
    db.query("UPDATE advisors SET is_active = true WHERE id = %s", (ana,))
    time.sleep(1)
    assert _answers(api, token) == 401
    fresh = _token(cli, ANA)
    wait_for(lambda: _answers(api, fresh) == 200, timeout=5, what="a new token to work")
    assert cli("advisors", "deactivate", ANA)[0] == 0
    assert cli("advisors", "activate", ANA)[0] == 0
    wait_for(lambda: _answers(api, fresh) == 401, timeout=5, what="the revoked token to be refused")


def test_failed_authentication_is_throttled_per_client_address(
    make_settings: Callable[..., Settings], db: Db
) -> None:
    settings = make_settings(admin_token=ADMIN, api_rate_limit=0, api_auth_failure_rate_limit=0.01)
    with TestClient(create_app(settings)) as api:
        # A forgotten job retrying a revoked token: that token is throttled on its own ...
        stale = [_answers(api, "abt_revoked_long_ago") for _ in range(25)]
        assert stale[:10] == [401] * 10  # a person mistyping is never throttled
        assert set(stale[10:]) == {429}
        # ... and never locks the right admin token or another token out (issue 23, finding 12).
        assert _answers(api, ADMIN) == 200
        assert _answers(api, "abt_another") == 401
        # A guesser with a fresh token per request meets the per-address ceiling (20 x the burst).
        guesses = [_answers(api, f"abt_guess{n}") for n in range(230)]
        assert guesses[:180] == [401] * 180 and guesses[-1] == 429
        assert _answers(api, ADMIN) == 200  # still: the admin token costs no look-up
    with TestClient(create_app(settings), client=("198.51.100.7", 50000)) as other:
        assert _answers(other, "abt_guess_elsewhere") == 401  # another address is not throttled


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_console_link_uses_the_port_the_server_here_was_started_with_and_says_so(
    cli: Callable[..., tuple[int, str, str]], db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run PORT=8101`, then `advisor-bot console link` in another shell (issue 29)."""
    db.add_advisor("Ana", "+14155238886")
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    code, out, _ = cli("console", "link", "+14155238886")
    assert code == 0 and "http://localhost:8000/console/link/" in out
    assert "no running server found on this machine: port 8000 assumed" in out
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db.url, "LOG_LEVEL": "WARNING"}
    env.pop("PORT", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _answers_ready(port), timeout=60, what="the server to listen")
        code, out, _ = cli("console", "link", "+14155238886")
        assert code == 0 and f"http://localhost:{port}/console/link/" in out
        said = "the port the server on this machine was started with"
        assert f"(address: {said} (advisor-bot serve --port {port}))" in out
        # `simulate` finds the same server without --port (no worker runs here: no reply comes).
        code, out, _ = cli(
            "simulate", "--to", "+14155238886", "--from", "+573001112233", "hola", "--timeout", "1"
        )
        assert "webhook answered 200" in out
        code, out, _ = cli("console", "link", "+14155238886", "--base-url", "https://bot.example.com/")
        assert "https://bot.example.com/console/link/" in out and "(address: --base-url)" in out
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert db.query("SELECT count(*) AS n FROM running_servers")[0]["n"] == 0  # a clean stop forgets it
    code, out, _ = cli("console", "link", "+14155238886")
    assert "no running server found" in out


def _answers_ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
