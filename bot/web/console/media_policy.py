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

import re
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


def is_media_route(path: str) -> bool:
    """Whether `path` serves customer or published media (every such answer is sandboxed)."""
    if path.startswith("/media/"):
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
            await send(message)

        await self.app(scope, receive, sandboxed)
