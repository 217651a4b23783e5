"""Owns outbound WhatsApp: splitting long replies and sending them through the Twilio REST API."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList

from advisors.numbers import whatsapp_address
from bot.infra.metrics import TWILIO_ERRORS
from bot.settings import TWILIO_DEFAULT_API_BASE_URL, Settings

logger = logging.getLogger(__name__)

WHATSAPP_BODY_LIMIT = 1600
_SENTENCE_END = re.compile(r"[.!?…](?:\s+|$)|\n+")


class TransientSendError(Exception):
    """Twilio could not take the message now (timeout, 5xx, 429): try again later."""


class PermanentSendError(Exception):
    """Twilio refused the message for good (bad number, unapproved content...): do not retry."""

    def __init__(self, message: str, *, code: str | None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SendResult:
    """What Twilio answered for an accepted message; `sid` is None for a dry run."""

    sid: str | None
    status: str


def split_reply(text: str, limit: int = WHATSAPP_BODY_LIMIT) -> list[str]:
    """Split `text` into parts of at most `limit` characters, at sentence or word boundaries.

    A part is cut at the last paragraph break that fits (when it leaves a part of a third of the
    limit at least), else at the last sentence end, else at the last space, and only as a last
    resort inside a word (a URL longer than the limit, say).
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    remaining = text.strip()
    parts: list[str] = []
    while len(remaining) > limit:
        window = remaining[: limit + 1]
        cut = 0
        for match in _SENTENCE_END.finditer(window):
            end = match.start() + 1 if not match.group(0).startswith("\n") else match.start()
            if 0 < end <= limit:
                cut = end
        if cut < limit // 3:
            space = window.rfind(" ", 0, limit + 1)
            cut = space if space > 0 else limit
        paragraph = window.rfind("\n\n", 0, limit + 1)
        if paragraph >= limit // 3:  # a whole paragraph per message reads best, when one fits
            cut = paragraph
        parts.append(remaining[:cut].rstrip())
        remaining = remaining[cut:].lstrip()
    if remaining:
        parts.append(remaining)
    return parts


def is_transient_status(status: int | None) -> bool:
    """Tell whether an HTTP status from Twilio is worth retrying."""
    return status is None or status == 429 or status >= 500


def _without_nulls(value: Any) -> Any:
    """A JSON value without the keys twilio's models fill with null for every type not chosen."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


class _TwilioHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio ships no types
    """twilio's aiohttp client, with Basic auth sent as a header (aiohttp deprecates `BasicAuth`).

    Its request and response logs are written only when its logger would show them: twilio
    formats a dozen lines (every header included) for each call before the logger drops them.
    """

    def log_request(self, kwargs: dict[str, Any]) -> None:
        if self.logger.isEnabledFor(logging.INFO):
            super().log_request(kwargs)

    def log_response(self, status_code: int, response: Any) -> None:
        if self.logger.isEnabledFor(logging.INFO):
            super().log_response(status_code, response)

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers = {**(headers or {}), "Authorization": f"Basic {token}"}
        if headers and headers.get("Content-Type") == "application/json" and isinstance(data, dict):
            # twilio's sync client sends such bodies as JSON; its async one form-encoded them
            # under a JSON header (the Content API's create), which Twilio refuses.
            body: Any = json.dumps(_without_nulls(data))
            return await super().request(method, url, params, body, headers, None, timeout, allow_redirects)
        return await super().request(method, url, params, data, headers, None, timeout, allow_redirects)


TYPING_TIMEOUT_SECONDS = 5.0
# What a call that never reached Twilio, or got no answer in time, raises: worth retrying.
_UNREACHABLE = (TimeoutError, aiohttp.ClientError, TwilioException)


class TwilioSender:
    """Sends WhatsApp messages from an advisor's number with the real twilio client.

    The client is twilio's asynchronous one (aiohttp, connections kept open): the sync client
    needed a thread per call, and those threads held the GIL against the worker's event loop.
    Without credentials it is a dry run: nothing leaves the machine, the caller stores the
    message as not sent, and a warning says so. Create it inside the running event loop and
    `aclose()` it there.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        status_callback_url: str | None = None,
        http_session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._settings = settings
        self._status_callback_url = status_callback_url
        self._client: Client | None = None
        self._http: _TwilioHttpClient | None = None
        # A shared session (the worker's, bot.infra.http) belongs to its owner, who closes it.
        self._owns_session = http_session is None
        if settings.twilio_configured:
            assert settings.twilio_auth_token is not None
            self._http = _TwilioHttpClient(pool_connections=http_session is None)
            if http_session is not None:
                self._http.session = http_session
            self._client = Client(
                settings.twilio_account_sid,
                settings.twilio_auth_token.get_secret_value(),
                http_client=self._http,
            )
            # Lets tests and Twilio-compatible gateways receive the REST calls: one origin for
            # every Twilio API, each keeping its own path (/2010-04-01/…, /v2/Indicators/…, /v1/Content).
            if settings.twilio_api_base_url.rstrip("/") != TWILIO_DEFAULT_API_BASE_URL:
                origin = settings.twilio_api_base_url.rstrip("/")
                for domain in (self._client.api, self._client.messaging, self._client.content):
                    domain.base_url = origin

    async def aclose(self) -> None:
        """Close the kept-open connections to Twilio, unless they are a shared session's."""
        if self._http is not None and self._owns_session:
            await self._http.close()

    @property
    def reports_delivery(self) -> bool:
        """Whether Twilio is asked to call back with each message's status (PUBLIC_BASE_URL set)."""
        return self._client is not None and bool(self._status_callback_url)

    @property
    def dry_run(self) -> bool:
        """True when no Twilio credentials are configured."""
        return self._client is None

    async def send(
        self,
        *,
        from_number: str,
        to_number: str,
        body: str,
        content_sid: str | None = None,
        content_variables: dict[str, str] | None = None,
        media_url: str | None = None,
    ) -> SendResult:
        """Send one message (free text, or an approved template when `content_sid` is given).

        Raises:
            TransientSendError: worth retrying later.
            PermanentSendError: Twilio refused it for good.
        """
        if self._client is None:
            return SendResult(sid=None, status="dry_run")
        options: dict[str, Any] = {}
        if media_url:
            options["media_url"] = [media_url]
        if self._status_callback_url:
            options["status_callback"] = self._status_callback_url
        if content_sid:
            options["content_sid"] = content_sid
            options["content_variables"] = json.dumps(content_variables or {})
            body = ""  # a template carries its own text
        async with self._call("the message"):
            message = await self._client.messages.create_async(
                from_=whatsapp_address(from_number),
                to=whatsapp_address(to_number),
                body=body or values.unset,
                **options,
            )
        return SendResult(sid=message.sid, status=str(message.status or "queued"))

    @contextlib.asynccontextmanager
    async def _call(self, what: str) -> AsyncIterator[None]:
        """One bounded call that creates something at Twilio, its failures as the queue retries them.

        Raises:
            TransientSendError: a timeout, 5xx, 429 or no answer: worth retrying.
            PermanentSendError: Twilio refused `what` for good.
        """
        try:
            async with asyncio.timeout(self._settings.twilio_timeout_seconds):
                yield
        except TwilioRestException as error:
            TWILIO_ERRORS.labels(str(error.code or error.status)).inc()
            if is_transient_status(error.status):
                raise TransientSendError(f"Twilio answered {error.status}") from error
            raise PermanentSendError(
                f"Twilio refused {what} ({error.status}): {error.msg}",
                code=str(error.code) if error.code else None,
            ) from error
        except _UNREACHABLE as error:
            TWILIO_ERRORS.labels("unreachable").inc()
            raise TransientSendError(f"Twilio unreachable: {type(error).__name__}") from error

    async def create_content(
        self, *, friendly_name: str, language: str, types: dict[str, Any], variables: dict[str, str]
    ) -> str:
        """Create one Content (a quick reply, a list picker) and return its SID (HX…).

        `variables` are the defaults of the variables its text uses; each send gives its own.

        Raises:
            TransientSendError: worth retrying later.
            PermanentSendError: Twilio refused the content (a limit it checks, say).
        """
        if self._client is None:
            raise PermanentSendError("no Twilio credentials: content cannot be created", code=None)
        request = ContentList.ContentCreateRequest(
            {
                "friendly_name": friendly_name[:64],
                "language": language,
                "variables": variables,
                "types": types,
            }
        )
        async with self._call("the content"):
            created = await self._client.content.v1.contents.create_async(request)
        return str(created.sid)

    async def show_typing(self, *, message_sid: str) -> bool:
        """Mark the customer's message read and show "typing…" (until the reply, or 25 s).

        Courtesy only: every failure is logged and swallowed, and the call is bounded by a few
        seconds, so it can never delay or stop a reply. Returns whether Twilio took it.
        """
        if self._client is None:
            return False
        try:
            async with asyncio.timeout(min(TYPING_TIMEOUT_SECONDS, self._settings.twilio_timeout_seconds)):
                await self._client.messaging.v2.typing_indicator.create_async(
                    channel="whatsapp", message_id=message_sid
                )
        except TwilioRestException as error:
            TWILIO_ERRORS.labels(str(error.code or error.status)).inc()
            logger.warning(
                "typing indicator refused",
                extra={"sid": message_sid, "status": error.status, "code": error.code},
            )
            return False
        except _UNREACHABLE as error:
            TWILIO_ERRORS.labels("unreachable").inc()
            logger.warning(
                "typing indicator failed", extra={"sid": message_sid, "error": type(error).__name__}
            )
            return False
        return True

    async def find_sent(
        self, *, from_number: str, to_number: str, body: str, with_media: bool, since: datetime
    ) -> SendResult | None:
        """Ask Twilio whether a message like this one was already accepted since `since`.

        Closes the window between Twilio accepting a message and us recording its SID: a retry
        looks before it sends again, so a customer never gets the same reply twice.
        """
        if self._client is None:
            return None
        try:
            async with asyncio.timeout(self._settings.twilio_timeout_seconds):
                recent = await self._client.messages.list_async(
                    from_=whatsapp_address(from_number), to=whatsapp_address(to_number), limit=50
                )
        except TwilioRestException as error:
            if is_transient_status(error.status):
                raise TransientSendError(f"Twilio answered {error.status}") from error
            raise PermanentSendError(f"Twilio refused the lookup ({error.status})", code=None) from error
        except _UNREACHABLE as error:
            raise TransientSendError(f"Twilio unreachable: {type(error).__name__}") from error
        for message in recent:
            created = message.date_created
            if created is not None and created < since - timedelta(minutes=2):
                continue
            has_media = int(message.num_media or 0) > 0
            if (message.body or "") == body and has_media == with_media:
                return SendResult(sid=message.sid, status=str(message.status or "queued"))
        return None
