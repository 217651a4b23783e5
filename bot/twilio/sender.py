"""Owns outbound WhatsApp: splitting long replies and sending them through the Twilio REST API."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from advisors.numbers import whatsapp_address
from bot.infra.metrics import TWILIO_ERRORS
from bot.settings import Settings

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

    A part is cut at the last sentence end that fits, else at the last space, and only as a last
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
        parts.append(remaining[:cut].rstrip())
        remaining = remaining[cut:].lstrip()
    if remaining:
        parts.append(remaining)
    return parts


def is_transient_status(status: int | None) -> bool:
    """Tell whether an HTTP status from Twilio is worth retrying."""
    return status is None or status == 429 or status >= 500


class TwilioSender:
    """Sends WhatsApp messages from an advisor's number with the real twilio client.

    Without credentials it is a dry run: nothing leaves the machine, the caller stores the
    message as not sent, and a warning says so.
    """

    def __init__(self, settings: Settings, *, status_callback_url: str | None = None) -> None:
        self._settings = settings
        self._status_callback_url = status_callback_url
        self._client: Client | None = None
        if settings.twilio_configured:
            assert settings.twilio_auth_token is not None
            http_client = TwilioHttpClient(timeout=settings.twilio_timeout_seconds)
            self._client = Client(
                settings.twilio_account_sid,
                settings.twilio_auth_token.get_secret_value(),
                http_client=http_client,
            )
            # Lets tests and Twilio-compatible gateways receive the REST calls.
            self._client.api.base_url = settings.twilio_api_base_url

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
        return await asyncio.to_thread(self._send_blocking, from_number, to_number, body, options)

    async def find_sent(
        self, *, from_number: str, to_number: str, body: str, with_media: bool, since: datetime
    ) -> SendResult | None:
        """Ask Twilio whether a message like this one was already accepted since `since`.

        Closes the window between Twilio accepting a message and us recording its SID: a retry
        looks before it sends again, so a customer never gets the same reply twice.
        """
        if self._client is None:
            return None
        return await asyncio.to_thread(self._find_blocking, from_number, to_number, body, with_media, since)

    def _find_blocking(
        self, from_number: str, to_number: str, body: str, with_media: bool, since: datetime
    ) -> SendResult | None:
        assert self._client is not None
        try:
            recent = self._client.messages.list(
                from_=whatsapp_address(from_number), to=whatsapp_address(to_number), limit=50
            )
        except TwilioRestException as error:
            if is_transient_status(error.status):
                raise TransientSendError(f"Twilio answered {error.status}") from error
            raise PermanentSendError(f"Twilio refused the lookup ({error.status})", code=None) from error
        except (requests.Timeout, requests.ConnectionError, TwilioException) as error:
            raise TransientSendError(f"Twilio unreachable: {type(error).__name__}") from error
        for message in recent:
            created = message.date_created
            if created is not None and created < since - timedelta(minutes=2):
                continue
            has_media = int(message.num_media or 0) > 0
            if (message.body or "") == body and has_media == with_media:
                return SendResult(sid=message.sid, status=str(message.status or "queued"))
        return None

    def _send_blocking(
        self, from_number: str, to_number: str, body: str, options: dict[str, Any]
    ) -> SendResult:
        assert self._client is not None
        if "content_sid" in options:
            body = ""  # a template carries its own text
        try:
            message = self._client.messages.create(
                from_=whatsapp_address(from_number),
                to=whatsapp_address(to_number),
                body=body or values.unset,
                **options,
            )
        except TwilioRestException as error:
            TWILIO_ERRORS.labels(str(error.code or error.status)).inc()
            if is_transient_status(error.status):
                raise TransientSendError(f"Twilio answered {error.status}") from error
            raise PermanentSendError(
                f"Twilio refused the message ({error.status}): {error.msg}",
                code=str(error.code) if error.code else None,
            ) from error
        except (requests.Timeout, requests.ConnectionError, TwilioException) as error:
            TWILIO_ERRORS.labels("unreachable").inc()
            raise TransientSendError(f"Twilio unreachable: {type(error).__name__}") from error
        return SendResult(sid=message.sid, status=str(message.status or "queued"))
