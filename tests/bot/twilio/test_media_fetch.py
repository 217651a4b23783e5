"""Media fetching connects to the address it checked: a DNS answer that changes cannot reach inside.

The check resolves the name once; a rebinding resolver answers a public address for the check
and loopback for any later look-up. Everything stays on 127.0.0.1: an HTTP proxy there (the
client honours HTTPS_PROXY) records where the client asks to connect, and refuses.
"""

from __future__ import annotations

import asyncio
import socketserver
import threading
from collections.abc import Awaitable, Callable, Iterator

import pytest

from bot.settings import Settings
from bot.twilio.media_fetch import MediaError, _is_public, fetch_media


class _RecordingProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.targets: list[str] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        request_line = self.rfile.readline().decode("latin-1").strip()
        assert isinstance(self.server, _RecordingProxy)
        self.server.targets.append(request_line)
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[_RecordingProxy]:
    server = _RecordingProxy()
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    yield server
    server.shutdown()
    server.server_close()


def _rebinding(public: str, inside: str) -> tuple[Callable[[str, int], Awaitable[list[str]]], list[str]]:
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return [public] if len(asked) == 1 else [inside]

    return resolve, asked


def test_the_connection_goes_to_the_checked_address_not_a_second_answer(
    make_settings: Callable[..., Settings], proxy: _RecordingProxy
) -> None:
    settings = make_settings(twilio_media_hosts="api.twilio.com", media_cdn_hosts="*.rebind.test")
    resolve, asked = _rebinding("93.184.216.34", "127.0.0.1")
    with pytest.raises(MediaError) as refused:
        asyncio.run(fetch_media("https://media.rebind.test/ME1", settings=settings, resolve=resolve))
    assert refused.value.reason == "fetch_failed"  # the proxy refused the checked address
    assert asked == ["media.rebind.test"]  # resolved once, for the check
    assert proxy.targets == ["CONNECT 93.184.216.34:443 HTTP/1.1"]


@pytest.mark.parametrize(
    "answer",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "::1",
        "::ffff:127.0.0.1",
        "100.64.0.1",
        "224.0.0.1",
        # IPv4 inside IPv6 through a translator (issue 23, finding 19): NAT64 and 6to4.
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::a01:203",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::1",
    ],
)
def test_names_that_resolve_inside_are_refused_before_any_connection(
    make_settings: Callable[..., Settings], proxy: _RecordingProxy, answer: str
) -> None:
    settings = make_settings(twilio_media_hosts="api.twilio.com", media_cdn_hosts="*.rebind.test")

    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34", answer]  # one inside address among public ones is enough

    with pytest.raises(MediaError) as refused:
        asyncio.run(fetch_media("https://media.rebind.test/x", settings=settings, resolve=resolve))
    assert refused.value.reason == "private_address"
    assert proxy.targets == []


def test_translated_forms_of_public_addresses_stay_public() -> None:
    """Unwrapping NAT64 and 6to4 refuses only what they lead inside, not the public internet."""
    assert _is_public("64:ff9b::808:808")  # NAT64 of 8.8.8.8
    assert _is_public("2002:808:808::1")  # 6to4 of 8.8.8.8
    assert _is_public("2606:4700::1111")
    assert not _is_public("64:ff9b:1::808:808")  # local-use NAT64 is never a public destination
