"""Owns fetching a customer's media from Twilio: credentials only to Twilio, nothing private, bounded.

Twilio media URLs answer with a redirect to a CDN. The account's credentials go only to the
hosts in TWILIO_MEDIA_HOSTS; the redirect is followed without them, and only to a host in
TWILIO_MEDIA_HOSTS or MEDIA_CDN_HOSTS. A host that resolves to a private, loopback or link-local
address is refused unless an exact `host:port` entry names it (as the tests' local fakes do).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from bot.settings import Settings

MAX_REDIRECTS = 3


class MediaError(Exception):
    """The media could not be had; `reason` is a stable code stored with the message."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Media:
    """Downloaded media bytes and the content type the server declared."""

    data: bytes
    content_type: str


def _entries(value: str) -> list[str]:
    return [entry.strip().lower() for entry in value.split(",") if entry.strip()]


def _matches(host: str, port: int, entry: str) -> tuple[bool, bool]:
    """Return (matches, exact) for one allow-list entry: `host`, `*.domain` or `host:port`."""
    name, _, entry_port = entry.partition(":")
    if entry_port and str(port) != entry_port:
        return False, False
    if name.startswith("*."):
        return host.endswith(name[1:]), False
    return host == name, bool(entry_port)


def _allowed(url: str, entries: list[str]) -> tuple[bool, bool]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    results = [_matches(host, port, entry) for entry in entries]
    return any(match for match, _ in results), any(match and exact for match, exact in results)


async def _is_private(host: str) -> bool:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return True  # unresolvable: treat as unsafe
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            return True
    return False


async def _check(url: str, *, settings: Settings) -> bool:
    """Refuse a URL the policy does not allow; return whether Twilio credentials may go to it."""
    parts = urlsplit(url)
    twilio_hosts = _entries(settings.twilio_media_hosts)
    is_twilio, twilio_exact = _allowed(url, twilio_hosts)
    is_cdn, cdn_exact = _allowed(url, _entries(settings.media_cdn_hosts))
    if not (is_twilio or is_cdn):
        raise MediaError(f"media host not allowed: {parts.hostname}", reason="host_not_allowed")
    exact = twilio_exact or cdn_exact
    if parts.scheme != "https" and not exact:
        raise MediaError("media URL is not https", reason="host_not_allowed")
    if not exact and await _is_private(parts.hostname or ""):
        raise MediaError(
            f"media host resolves to a private address: {parts.hostname}", reason="private_address"
        )
    return is_twilio


def _basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def fetch_media(url: str, *, settings: Settings) -> Media:
    """Download one media item within MAX_MEDIA_BYTES and MEDIA_TIMEOUT_SECONDS.

    Raises:
        MediaError: refused by the policy, too large, or not fetched.
    """
    auth: tuple[str, str] | None = None
    if settings.twilio_configured:
        assert settings.twilio_auth_token is not None
        auth = (settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())
    limit = settings.max_media_bytes
    try:
        async with (
            asyncio.timeout(settings.media_timeout_seconds),
            httpx.AsyncClient(follow_redirects=False, timeout=settings.media_timeout_seconds) as client,
        ):
            for _ in range(MAX_REDIRECTS + 1):
                send_credentials = await _check(url, settings=settings)
                request = client.build_request("GET", url)
                if send_credentials and auth is not None:
                    request.headers["Authorization"] = _basic_auth(*auth)
                response = await client.send(request, stream=True)
                try:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code != 200:
                        raise MediaError(f"media answered {response.status_code}", reason="fetch_failed")
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > limit:
                        raise MediaError(f"media is larger than {limit} bytes", reason="too_large")
                    data = bytearray()
                    async for chunk in response.aiter_bytes():
                        data.extend(chunk)
                        if len(data) > limit:
                            raise MediaError(f"media is larger than {limit} bytes", reason="too_large")
                    content_type = response.headers.get("content-type", "").split(";")[0].strip()
                    return Media(data=bytes(data), content_type=content_type)
                finally:
                    await response.aclose()
    except TimeoutError as error:
        raise MediaError("media download timed out", reason="fetch_failed") from error
    except httpx.HTTPError as error:
        raise MediaError(f"media download failed: {type(error).__name__}", reason="fetch_failed") from error
    raise MediaError("too many redirects", reason="fetch_failed")
