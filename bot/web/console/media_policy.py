"""Owns how customer media is drawn and served: one decision, from one declared type.

Whatever a customer sends is hostile until proven otherwise. An SVG, an HTML or an XML
document opened on the console's origin runs its script with the advisor's (or the admin's)
session, so only types that a browser can never run are served inline, and every response of a
media route is sandboxed (`Content-Security-Policy: default-src 'none'; sandbox`) with
`nosniff`. The page draws an attachment and the server serves it from the *same* declared type
(the webhook's `MediaContentType`), never from what the media server answers later: a file
announced as a picture is served as that picture type, so a browser cannot render it as
anything that runs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Literal

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MEDIA_CONTENT_SECURITY_POLICY = "default-src 'none'; sandbox"
MEDIA_SECURITY_HEADERS = {
    "Content-Security-Policy": MEDIA_CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
}
DOWNLOAD_TYPE = "application/octet-stream"
INLINE_PICTURES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
INLINE_DOCUMENTS = frozenset({"application/pdf"})
_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}")

Kind = Literal["image", "audio", "video", "document", "file"]


@dataclass(frozen=True)
class MediaShape:
    """How one attachment is drawn on the page and served by the media route."""

    kind: Kind
    served_type: str
    inline: bool

    @property
    def disposition(self) -> str:
        """The Content-Disposition kind: a download unless the type is safe to draw."""
        return "inline" if self.inline else "attachment"


def media_shape(declared: str | None) -> MediaShape:
    """The shape of an attachment of `declared` type; anything not on the allow-list is a download.

    The allow-list (JPEG, PNG, GIF, WebP, audio, video, PDF) holds only types a browser draws
    without running anything the sender wrote; SVG, XML, HTML and every unknown or malformed
    type are served as `application/octet-stream` attachments.
    """
    kind = (declared or "").split(";", 1)[0].strip().lower()
    if not _MEDIA_TYPE.fullmatch(kind):
        return MediaShape("file", DOWNLOAD_TYPE, inline=False)
    if kind in INLINE_PICTURES:
        return MediaShape("image", kind, inline=True)
    if kind.startswith("audio/"):
        return MediaShape("audio", kind, inline=True)
    if kind.startswith("video/"):
        return MediaShape("video", kind, inline=True)
    if kind in INLINE_DOCUMENTS:
        return MediaShape("document", kind, inline=True)
    return MediaShape("file", DOWNLOAD_TYPE, inline=False)


TICKET_PATH = "/console/m/"
TICKET_SECONDS = 300


@dataclass(frozen=True)
class MediaTicket:
    """What a signed link on the media origin grants: one attachment, for a few minutes."""

    advisor_id: str
    conversation_id: str
    message_id: int
    index: int


def sign_ticket(ticket: MediaTicket, key: bytes, *, now: float | None = None) -> str:
    """A link token for `ticket`, valid TICKET_SECONDS (the console's cookie key signs it)."""
    expires = int((now if now is not None else time.time()) + TICKET_SECONDS)
    payload = f"{ticket.advisor_id}.{ticket.conversation_id}.{ticket.message_id}.{ticket.index}.{expires}"
    return f"{payload}.{_ticket_mac(payload, key)}"


def read_ticket(token: str, key: bytes, *, now: float | None = None) -> MediaTicket | None:
    """The ticket a link token grants, or None when forged, altered or expired."""
    parts = token.split(".")
    if len(parts) != 6 or not all(part.isascii() for part in parts):
        return None
    payload, mac = ".".join(parts[:5]), parts[5]
    if not hmac.compare_digest(_ticket_mac(payload, key), mac):
        return None
    advisor, conversation, message, index, expires = parts[:5]
    if not (message.isdigit() and index.isdigit() and expires.isdigit()):
        return None
    if int(expires) < (now if now is not None else time.time()):
        return None
    return MediaTicket(advisor, conversation, int(message), int(index))


def _ticket_mac(payload: str, key: bytes) -> str:
    return hmac.new(key, b"console-media:" + payload.encode(), hashlib.sha256).hexdigest()


def is_media_route(path: str) -> bool:
    """Whether `path` serves customer or published media (every such answer is sandboxed)."""
    if path.startswith(("/media/", TICKET_PATH)):
        return True
    parts = path.split("/")
    # /console/c/{conversation}/media/{message}/{index}
    return len(parts) >= 5 and parts[1] == "console" and parts[2] == "c" and parts[4] == "media"


class SandboxMedia:
    """ASGI middleware: every answer of a media route carries the sandbox headers.

    Applied outside the routes so that error pages, sign-in redirects and redirects to our own
    media are sandboxed too, not only the successful answers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; sandbox the answer's headers when the path serves media."""
        if scope["type"] != "http" or not is_media_route(scope.get("path", "")):
            await self.app(scope, receive, send)
            return

        async def sandboxed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in MEDIA_SECURITY_HEADERS.items():
                    headers[name] = value
                if scope.get("path", "").startswith(TICKET_PATH):
                    # the media origin is another site than the console: its pages embed these
                    headers["Cross-Origin-Resource-Policy"] = "cross-origin"
            await send(message)

        await self.app(scope, receive, sandboxed)
