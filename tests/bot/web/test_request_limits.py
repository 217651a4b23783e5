"""Issue 23, findings 3, 6 and 17: bodies capped and timed on every route, inputs never echoed,
text PostgreSQL refuses answered 422, tracebacks cut like every other log field."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.settings import Settings
from tests.conftest import Db
from tests.live import LiveServer, free_port

ADMIN = "admin-token-for-limit-tests-0123"
ANA = "+14155238886"


@pytest.fixture
def server(make_settings: Callable[..., Settings], db: Db) -> Iterator[str]:
    port = free_port()
    settings = make_settings(admin_token=ADMIN, webhook_body_timeout_seconds=1.5)
    with LiveServer(settings, port) as live:
        yield live.base


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _raw(base: str, head: bytes, body_parts: list[bytes], *, pause: float = 0.0) -> tuple[int, bytes, float]:
    """Send a request by hand; return the status, the answer's body and the seconds it took."""
    host, port = base.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=20) as conn:
        conn.sendall(head)
        for part in body_parts:
            try:
                conn.sendall(part)
            except OSError:  # the server answered and closed: stop sending
                break
            if pause:
                time.sleep(pause)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < answer.index(b"\r\n\r\n") + 4:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except OSError:
            pass
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2], time.monotonic() - started


def test_an_anonymous_50_mb_body_is_refused_at_once_and_memory_stays_flat(server: str) -> None:
    declared = 50 * 1024 * 1024
    head = (
        f"POST /api/conversations/x HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    status, _, took = _raw(server, head, [b"{" + b" " * 65536])
    assert status == 413 and took < 2
    before = _rss_kb()
    chunk = b" " * (1024 * 1024)
    chunked = b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(8))
    head = (
        b"PATCH /api/conversations/x HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    status, _, took = _raw(
        server, head, [chunked[i : i + 262144] for i in range(0, len(chunked), 262144)] * 6
    )
    assert status == 413
    assert _rss_kb() - before < 30_000  # 48 MB offered; at most the 1 MB cap and buffers were held


def test_a_slow_body_on_the_api_gets_408(server: str) -> None:
    head = (
        b"POST /api/knowledge HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: 500\r\n\r\n"
    )
    status, body, took = _raw(server, head, [b'{"so', b"ur", b"ce"], pause=1.0)
    assert status == 408 and b"not received within" in body
    assert took < 6


def test_a_422_never_echoes_the_input_and_a_lone_surrogate_is_a_short_422(
    server: str, db: Db, capfd: pytest.CaptureFixture[str]
) -> None:
    ana = db.add_advisor("Ana", ANA)
    conversation = db.add_customer(ana, "+573001112233", name="Valentina", labels=[])
    admin = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
    huge = "x" * 600_000
    refused = httpx.post(
        f"{server}/api/knowledge",
        content=f'{{"source": "a/{huge}", "text": "hola"}}',
        headers=admin,
        timeout=30,
    )
    assert refused.status_code == 422 and len(refused.content) < 4096
    assert "xxxxxxxxxx" not in refused.text
    for body in (
        '{"name": "Ana \\ud800"}',  # a lone surrogate, as JavaScript that cuts an emoji in half sends it
        '{"name": "\\ud800' + "y" * 300_000 + '"}',
        '{"name": "Ana\\u0000"}',
        '{"notes": "' + "z" * 200_000 + '\\udfff"}',
    ):
        answer = httpx.patch(
            f"{server}/api/conversations/{conversation}/profile", content=body, headers=admin, timeout=30
        )
        assert answer.status_code == 422, answer.text[:300]
        assert len(answer.content) < 4096
    logged = capfd.readouterr().err
    assert "y" * 2000 not in logged and "z" * 2000 not in logged
    assert not db.query("SELECT 1 FROM customer_profiles WHERE name LIKE 'Ana%%' OR notes LIKE 'zz%%'")


def test_nul_in_filters_and_crafted_numbers_are_4xx_never_500(server: str, db: Db) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    for path in (
        "/api/customers?label=%00",
        "/api/customers?q=a%00b",
        "/api/conversations?q=%ED%A0%80",  # the UTF-8 bytes of a lone surrogate
        "/api/knowledge/search?q=%00",
    ):
        answer = httpx.get(server + path, headers=admin, timeout=10)
        assert answer.status_code == 422, (path, answer.status_code)
    crafted = httpx.get(f"{server}/media/abc.ogg?expires=%C2%B2&signature=x", timeout=10)
    assert crafted.status_code == 404
