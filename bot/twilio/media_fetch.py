"""Owns fetching a customer's media from Twilio: credentials only to Twilio, nothing private, bounded.

Twilio media URLs answer with a redirect to a CDN. The account's credentials go only to the
hosts in TWILIO_MEDIA_HOSTS; the redirect is followed without them, and only to a host in
TWILIO_MEDIA_HOSTS or MEDIA_CDN_HOSTS. A host that resolves to anything but a public address is
refused unless an exact `host:port` entry names it (as the tests' local fakes do). The name is
resolved once: the connection goes to the very address that was checked (TLS still verifies the
name), so a DNS answer that changes between check and connect (rebinding) cannot reach inside.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from bot.settings import Settings

MAX_REDIRECTS = 3

# host, port → the addresses the name has now. The system resolver, unless a caller brings one.
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolve(host: str, port: int) -> list[str]:
    """Resolve with the operating system, as the HTTP client would."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


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


# Translation prefixes that carry an IPv4 address inside an IPv6 one (RFC 6052, RFC 8215).
_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: mapped, 6to4, well-known NAT64 or Teredo forms.

    Local-use NAT64 (64:ff9b:1::/48) may place the IPv4 part anywhere its operator chose, so it
    is refused whole rather than unwrapped.
    """
    found = [ip.ipv4_mapped] if ip.ipv4_mapped is not None else []
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64_WELL_KNOWN:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))  # a /96 prefix: the last 32 bits
    return found


def _is_public(address: str) -> bool:
    """Whether a resolved address is on the public internet, whatever IPv4 it may wrap.

    ::ffff:127.0.0.1, 2002:7f00:1:: (6to4) and 64:ff9b::7f00:1 (NAT64) all reach loopback
    through a translator, though Python calls the last two global.
    """
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if ip in _NAT64_LOCAL:
            return False  # local-use translation (RFC 8215): never a public destination
        if inner:
            return all(v4.is_global and not v4.is_multicast for v4 in inner)
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class _Target:
    """Where one request may go: with Twilio's credentials or not, and to which checked address."""

    send_credentials: bool
    address: str | None  # None: an exact host:port entry, connected to as named


async def _check(url: str, *, settings: Settings, resolve: Resolver) -> _Target:
    """Refuse a URL the policy does not allow; say where and with what it may be fetched."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise MediaError(f"media URL is malformed: {url[:100]!r}", reason="bad_url") from error
    host = parts.hostname or ""
    is_twilio, twilio_exact = _allowed(url, _entries(settings.twilio_media_hosts))
    is_cdn, cdn_exact = _allowed(url, _entries(settings.media_cdn_hosts))
    if not (is_twilio or is_cdn):
        raise MediaError(f"media host not allowed: {host}", reason="host_not_allowed")
    if twilio_exact or cdn_exact:
        return _Target(send_credentials=is_twilio, address=None)
    if parts.scheme != "https":
        raise MediaError("media URL is not https", reason="host_not_allowed")
    try:
        addresses = await resolve(host, port)
    except OSError as error:
        raise MediaError(f"media host does not resolve: {host}", reason="private_address") from error
    if not addresses or not all(_is_public(address) for address in addresses):
        raise MediaError(f"media host resolves to a private address: {host}", reason="private_address")
    return _Target(send_credentials=is_twilio, address=addresses[0])


def _pinned_request(client: httpx.AsyncClient, url: str, address: str | None) -> httpx.Request:
    """A GET for `url` that connects to `address`, keeping the name for Host and TLS."""
    if address is None:
        return client.build_request("GET", url)
    original = httpx.URL(url)
    pinned = original.copy_with(host=address)
    request = client.build_request("GET", pinned, headers={"Host": original.netloc.decode("ascii")})
    request.extensions["sni_hostname"] = original.host
    return request


def _basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def fetch_media(url: str, *, settings: Settings, resolve: Resolver = system_resolve) -> Media:
    """Download one media item within MAX_MEDIA_BYTES and MEDIA_TIMEOUT_SECONDS.

    Raises:
        MediaError: refused by the policy, too large, or not fetched.
    """
    data = bytearray()
    content_type = await download_media(url, settings=settings, sink=data.extend, resolve=resolve)
    return Media(data=bytes(data), content_type=content_type)


async def download_media(
    url: str,
    *,
    settings: Settings,
    sink: Callable[[bytes], object],
    resolve: Resolver = system_resolve,
) -> str:
    """Hand one media item to `sink` chunk by chunk; return the type the media server declared.

    The whole file is never held here: the console streams it to disk, the worker to memory.

    Raises:
        MediaError: refused by the policy, too large, or not fetched (`sink` may have had a part).
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
                target = await _check(url, settings=settings, resolve=resolve)
                request = _pinned_request(client, url, target.address)
                if target.send_credentials and auth is not None:
                    request.headers["Authorization"] = _basic_auth(*auth)
                response = await client.send(request, stream=True)
                try:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code != 200:
                        raise MediaError(f"media answered {response.status_code}", reason="fetch_failed")
                    declared = response.headers.get("content-length")
                    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
                        raise MediaError(f"media is larger than {limit} bytes", reason="too_large")
                    received = 0
                    async for chunk in response.aiter_bytes():
                        received += len(chunk)
                        if received > limit:
                            raise MediaError(f"media is larger than {limit} bytes", reason="too_large")
                        sink(chunk)
                    declared_type: str = response.headers.get("content-type", "")
                    return declared_type.split(";")[0].strip()
                finally:
                    await response.aclose()
    except TimeoutError as error:
        raise MediaError("media download timed out", reason="fetch_failed") from error
    except httpx.HTTPError as error:
        raise MediaError(f"media download failed: {type(error).__name__}", reason="fetch_failed") from error
    raise MediaError("too many redirects", reason="fetch_failed")
