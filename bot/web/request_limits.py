"""Owns what any request may cost before it is understood: body size, body time, text the database refuses.

The webhooks have always bounded their bodies; the probe found `/api/*` reading and parsing a
400 MB anonymous body before checking its token (26 s, 1.3 GB), answering a slow body for ever,
and echoing 6 MB of input in a 422. Here, for every route:

- a body larger than the route's cap is refused with 413, at once when `Content-Length` says so,
  else as soon as the count passes it while streaming (never read whole first);
- a body must arrive within WEBHOOK_BODY_TIMEOUT_SECONDS (408);
- a query string holding NUL or a lone surrogate (which PostgreSQL cannot store, and which made
  500s) is refused with 422;
- validation errors answer with the field and a short reason, never the input itself, and a
  value the database refuses (NUL, invalid text) is a 422, not a 500.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import parse_qsl

import psycopg
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.settings import Settings
from bot.twilio.paths import STATUS_CALLBACK_PATH, WEBHOOK_PATH
from memory.knowledge.passages import MAX_DOCUMENT_BYTES
from memory.records.models import unstorable_text

logger = logging.getLogger(__name__)

# A document upload is base64 inside JSON: 4/3 of the largest document, and room for the rest.
UPLOAD_PATHS = frozenset({"/api/knowledge"})
MAX_UPLOAD_BYTES = MAX_DOCUMENT_BYTES * 4 // 3 + 64 * 1024
WEBHOOK_PATHS = frozenset({WEBHOOK_PATH, STATUS_CALLBACK_PATH})  # they time and count their own bodies
MAX_REASON_CHARS = 200
_CLOSE = {"Connection": "close"}  # the rest of the body is never read: the connection goes


class BodyLimits:
    """ASGI middleware: every request body is capped in size and in time."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.max_bytes = settings.max_request_bytes
        self.max_webhook_bytes = max(settings.max_webhook_bytes, settings.max_request_bytes)
        self.timeout = settings.webhook_body_timeout_seconds

    def _cap(self, path: str) -> int:
        if path in UPLOAD_PATHS:
            return max(MAX_UPLOAD_BYTES, self.max_bytes)
        if path in WEBHOOK_PATHS:
            return self.max_webhook_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what is too large or has text PostgreSQL refuses; bound the rest as it arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        cap = self._cap(path)
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await _answer(send, 413, f"request body exceeds {cap} bytes")
            return
        if not _query_is_storable(scope.get("query_string", b"")):
            await _answer(send, 422, "the query string holds NUL or invalid text")
            return
        timed = path not in WEBHOOK_PATHS
        received = 0
        deadline: float | None = None

        async def bounded() -> Message:
            nonlocal received, deadline
            if deadline is None:
                deadline = time.monotonic() + self.timeout
            remaining = deadline - time.monotonic()
            try:
                if not timed:
                    message = await receive()
                elif remaining <= 0:
                    raise TimeoutError
                else:
                    async with asyncio.timeout(remaining):
                        message = await receive()
            except TimeoutError:
                raise HTTPException(
                    408, f"request body not received within {self.timeout:g} s", headers=_CLOSE
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise HTTPException(413, f"request body exceeds {cap} bytes", headers=_CLOSE)
                if not message.get("more_body", False):
                    deadline = float("inf")  # the whole body is in: the handler may take its time
            return message

        await self.app(scope, bounded, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _query_is_storable(query: bytes) -> bool:
    if not query:
        return True
    try:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        return False
    return all(unstorable_text(key) is None and unstorable_text(value) is None for key, value in pairs)


async def _answer(send: Send, status: int, detail: str) -> None:
    body = ('{"detail": "' + detail + '"}').encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _short(value: object) -> str:
    text = str(value).encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS] + "…"


async def validation_failed(request: Request, error: Exception) -> Response:
    """422 with where and why, never the input: it may be megabytes, or text JSON cannot encode."""
    assert isinstance(error, RequestValidationError)
    details: list[dict[str, Any]] = [
        {
            "loc": [_short(part) if isinstance(part, str) else part for part in item.get("loc", ())],
            "msg": _short(item.get("msg", "")),
            "type": _short(item.get("type", "")),
        }
        for item in error.errors()[:20]
    ]
    return JSONResponse({"detail": details}, status_code=422)


async def refused_by_the_database(request: Request, error: Exception) -> Response:
    """A value PostgreSQL refuses (NUL, invalid text or number) is the caller's error: 422."""
    logger.info("request refused by the database's data checks", extra={"path": request.url.path})
    reason = "a value holds text or a number the database cannot store (NUL, a lone surrogate, …)"
    return JSONResponse({"detail": reason}, status_code=422)


# What `create_app` registers: the exception, and the answer it gets.
EXCEPTION_HANDLERS = (
    (RequestValidationError, validation_failed),
    (psycopg.DataError, refused_by_the_database),
    (UnicodeEncodeError, refused_by_the_database),
)
