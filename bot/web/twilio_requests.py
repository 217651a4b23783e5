"""Owns the Twilio side of a web request: reading its form safely, checking who sent it, answering.

Both Twilio webhooks (inbound messages and delivery reports) read and authenticate the same way,
and answer with the same few responses.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast
from urllib.parse import parse_qsl

from starlette.datastructures import FormData, UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from twilio.twiml.messaging_response import MessagingResponse

from advisors.numbers import InvalidNumberError, normalize_whatsapp_address
from bot.twilio.signature import public_url_for, signature_is_valid
from bot.web.runtime import WebRuntime

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 200


def retry_later(reason: str = "database unavailable", *, seconds: int = 5) -> Response:
    """503 with Retry-After: Twilio retries the webhook later, nothing is lost."""
    return PlainTextResponse(
        f"{reason}, retry later\n", status_code=503, headers={"Retry-After": str(seconds)}
    )


def twiml_ok() -> Response:
    """The empty TwiML answer: Twilio sends nothing back on our behalf."""
    return Response(EMPTY_TWIML, media_type="text/xml")


def error_response(status: int, message: str) -> Response:
    """A plain-text refusal that says what is wrong (Twilio logs it; people read it)."""
    return PlainTextResponse(message + "\n", status_code=status)


async def read_form(request: Request, *, max_bytes: int, timeout: float) -> FormData | Response:
    """Read the body within `max_bytes` and `timeout` seconds and parse it as a form, or say why not.

    Starlette caps neither the size of a URL-encoded form nor the time its body may take, so both
    are enforced while reading: a client that trickles its body cannot hold the request open.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            return error_response(400, "Content-Length is not a number")
        if int(declared) > max_bytes:
            return error_response(413, f"request body exceeds {max_bytes} bytes")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_CONTENT_TYPE:
        return error_response(415, f"expected {FORM_CONTENT_TYPE}, as Twilio sends")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > max_bytes:
                    return error_response(413, f"request body exceeds {max_bytes} bytes")
    except ClientDisconnect:
        return error_response(400, "client disconnected before the body was complete")
    except TimeoutError:
        runtime: WebRuntime = request.state.runtime
        runtime.load.slow_bodies += 1
        return error_response(408, f"request body not received within {timeout:g} s")
    try:
        pairs = parse_qsl(
            bytes(body).decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            errors="strict",
        )
    except UnicodeDecodeError:
        return error_response(400, "body is not valid UTF-8")
    except ValueError:
        return error_response(413, f"more than {MAX_FIELDS} form fields")
    return FormData(cast(list[tuple[str, str | UploadFile]], pairs))


async def authenticated_form(request: Request) -> FormData | Response:
    """Return the form of a genuine Twilio request, or the error response to send instead."""
    runtime: WebRuntime = request.state.runtime
    settings = runtime.settings
    client = request.client.host if request.client else "unknown"
    if not runtime.webhook_limiter.allow(client):
        logger.warning("webhook rate limit exceeded", extra={"client": client})
        return PlainTextResponse(
            "too many requests, retry later\n", status_code=429, headers={"Retry-After": "1"}
        )
    form = await read_form(
        request, max_bytes=settings.max_webhook_bytes, timeout=settings.webhook_body_timeout_seconds
    )
    if isinstance(form, Response):
        return form
    shared_key = (
        settings.twilio_webhook_signing_key.get_secret_value()
        if settings.twilio_webhook_signing_key
        else None
    )
    # While the Auth Token is being rotated, Twilio may still sign with the previous one.
    previous = settings.twilio_auth_token_previous
    tokens = [runtime.auth_token, previous.get_secret_value() if previous else None]
    if settings.validate_twilio_signature and not any(
        signature_is_valid(
            url=public_url_for(request, settings.public_base_url),
            form=form,
            headers=request.headers,
            auth_token=token,
            shared_key=shared_key,
        )
        for token in tokens
        if token
    ):
        logger.warning(
            "rejected webhook: missing or invalid X-Twilio-Signature",
            extra={"path": request.url.path, "sid": str(form.get("MessageSid", ""))[:64]},
        )
        return error_response(403, "invalid or missing X-Twilio-Signature")
    return form


def read_addresses(form: FormData) -> tuple[str, str] | Response:
    """Return (From, To) in E.164, or the 400 response that says which one is wrong."""
    numbers = []
    for field in ("From", "To"):
        value = str(form.get(field) or "").strip()
        if not value:
            return error_response(400, f"missing field: {field}")
        try:
            numbers.append(normalize_whatsapp_address(value))
        except InvalidNumberError:
            return error_response(400, f"field {field} is not a phone number")
    return numbers[0], numbers[1]


def twiml_message(text: str) -> Response:
    """A TwiML answer that makes Twilio send `text` back to whoever wrote."""
    reply = MessagingResponse()
    reply.message(text)
    return Response(str(reply), media_type="text/xml")
