"""Owns `POST /webhooks/twilio`: check, route, store, enqueue, and acknowledge at once."""

from __future__ import annotations

import logging
import re
from typing import cast
from urllib.parse import parse_qsl

import procrastinate.exceptions
import psycopg
import psycopg_pool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from twilio.twiml.messaging_response import MessagingResponse

from advisors.models import Advisor
from advisors.numbers import InvalidNumberError, normalize_whatsapp_address
from bot.commands import default_region, parse_command, run_command
from bot.inbound import InvalidInboundError, is_audio, read_inbound
from bot.jobs import ANSWER_TASK, conversation_lock
from bot.runtime import Runtime
from bot.settings import Settings
from bot.signature import public_url_for, signature_is_valid
from memory import store
from memory.store import InboundMessage

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 200

# The database is unreachable, restarting or saturated: Twilio retries a 503 later.
DATABASE_UNAVAILABLE = (
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    procrastinate.exceptions.ConnectorException,
)


class _DuplicateMessageError(Exception):
    """Rolls the transaction back when the MessageSid was already stored."""


def retry_later(reason: str = "database unavailable", *, seconds: int = 5) -> Response:
    """503 with Retry-After: Twilio retries the webhook later, nothing is lost."""
    return PlainTextResponse(
        f"{reason}, retry later\n", status_code=503, headers={"Retry-After": str(seconds)}
    )


def twiml_ok() -> Response:
    """The empty TwiML answer: Twilio sends nothing back on our behalf."""
    return Response(EMPTY_TWIML, media_type="text/xml")


def _error(status: int, message: str) -> Response:
    return PlainTextResponse(message + "\n", status_code=status)


async def read_form(request: Request, *, max_bytes: int) -> FormData | Response:
    """Read the body within `max_bytes` and parse it as a URL-encoded form, or say what is wrong.

    Starlette does not cap URL-encoded form size, so the limit is enforced while reading.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            return _error(400, "Content-Length is not a number")
        if int(declared) > max_bytes:
            return _error(413, f"request body exceeds {max_bytes} bytes")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_CONTENT_TYPE:
        return _error(415, f"expected {FORM_CONTENT_TYPE}, as Twilio sends")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > max_bytes:
                return _error(413, f"request body exceeds {max_bytes} bytes")
    except ClientDisconnect:
        return _error(400, "client disconnected before the body was complete")
    try:
        pairs = parse_qsl(
            bytes(body).decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            errors="strict",
        )
    except UnicodeDecodeError:
        return _error(400, "body is not valid UTF-8")
    except ValueError:
        return _error(413, f"more than {MAX_FIELDS} form fields")
    return FormData(cast(list[tuple[str, str | UploadFile]], pairs))


async def authenticated_form(request: Request) -> FormData | Response:
    """Return the form of a genuine Twilio request, or the error response to send instead."""
    runtime: Runtime = request.state.runtime
    settings = runtime.settings
    client = request.client.host if request.client else "unknown"
    if not runtime.webhook_limiter.allow(client):
        logger.warning("webhook rate limit exceeded", extra={"client": client})
        return PlainTextResponse(
            "too many requests, retry later\n", status_code=429, headers={"Retry-After": "1"}
        )
    form = await read_form(request, max_bytes=settings.max_webhook_bytes)
    if isinstance(form, Response):
        return form
    if settings.validate_twilio_signature and not signature_is_valid(
        url=public_url_for(request, settings.public_base_url),
        form=form,
        headers=request.headers,
        auth_token=runtime.auth_token,
        shared_key=(
            settings.twilio_webhook_signing_key.get_secret_value()
            if settings.twilio_webhook_signing_key
            else None
        ),
    ):
        logger.warning(
            "rejected webhook: missing or invalid X-Twilio-Signature",
            extra={"path": request.url.path, "sid": str(form.get("MessageSid", ""))[:64]},
        )
        return _error(403, "invalid or missing X-Twilio-Signature")
    return form


def read_addresses(form: FormData) -> tuple[str, str] | Response:
    """Return (From, To) in E.164, or the 400 response that says which one is wrong."""
    numbers = []
    for field in ("From", "To"):
        value = str(form.get(field) or "").strip()
        if not value:
            return _error(400, f"missing field: {field}")
        try:
            numbers.append(normalize_whatsapp_address(value))
        except InvalidNumberError:
            return _error(400, f"field {field} is not a phone number")
    return numbers[0], numbers[1]


def twiml_message(text: str) -> Response:
    """A TwiML answer that makes Twilio send `text` back to whoever wrote."""
    reply = MessagingResponse()
    reply.message(text)
    return Response(str(reply), media_type="text/xml")


def opt_change(body: str, settings: Settings) -> bool | None:
    """True for a stop word, False for a start word, None for any other message."""
    word = re.sub(r"[^\w]", "", body).upper()
    if word in settings.opt_out_keywords():
        return True
    if word in settings.opt_in_keywords():
        return False
    return None


async def _advisor_command(runtime: Runtime, advisor: Advisor, message: InboundMessage) -> Response:
    """Run a command the advisor sent from their own phone; a retried request gets the same answer."""
    async with runtime.pool.connection() as conn, conn.transaction():
        command_id = await store.record_advisor_command(
            conn=conn, advisor_id=advisor.id, twilio_sid=message.twilio_sid, body=message.body
        )
        if command_id is None:
            reply = await store.command_reply(conn=conn, advisor_id=advisor.id, twilio_sid=message.twilio_sid)
            return twiml_message(reply) if reply else twiml_ok()
        command = parse_command(message.body, region=default_region(advisor))
        reply = await run_command(
            command,
            conn=conn,
            advisor=advisor,
            queue=runtime.queue,
            settings=runtime.settings,
            events=runtime.events,
        )
        await store.finish_advisor_command(
            conn=conn, advisor_id=advisor.id, command_id=command_id, reply=reply
        )
    logger.info(
        "advisor command",
        extra={"advisor": str(advisor.id), "command": command.name, "sid": message.twilio_sid},
    )
    return twiml_message(reply)


async def twilio_webhook(request: Request) -> Response:
    """Accept one inbound WhatsApp message from Twilio, unless too many are being accepted already.

    Past saturation every request would wait its turn and all of them would come back late
    (Twilio gives up after 15 s); refusing the excess at once keeps the accepted ones fast, and
    Twilio retries the refused ones.
    """
    runtime: Runtime = request.state.runtime
    limit = runtime.settings.webhook_max_in_flight
    if limit and runtime.webhook_in_flight >= limit:
        logger.warning("webhook overloaded; asking Twilio to retry", extra={"in_flight": limit})
        return retry_later("overloaded", seconds=1)  # shed early rather than answer everyone late
    runtime.webhook_in_flight += 1
    try:
        return await _accept_inbound(request, runtime)
    finally:
        runtime.webhook_in_flight -= 1


async def _accept_inbound(request: Request, runtime: Runtime) -> Response:
    settings = runtime.settings
    form = await authenticated_form(request)
    if isinstance(form, Response):
        return form
    addresses = read_addresses(form)
    if isinstance(addresses, Response):
        return addresses
    customer, to_number = addresses
    try:
        message = read_inbound(form)
    except InvalidInboundError as error:
        return _error(400, str(error))

    try:
        advisor = await runtime.resolver.resolve(to_number)
        if advisor is None or not advisor.is_active:
            logger.info(
                "message to a number with no active advisor ignored",
                extra={
                    "advisor_number": to_number,
                    "customer": customer,
                    "known": advisor is not None,
                    "sid": message.twilio_sid,
                },
            )
            return twiml_ok()
        if customer == advisor.phone_number:
            return await _advisor_command(runtime, advisor, message)
        async with runtime.pool.connection() as conn:
            try:
                async with conn.transaction():
                    conversation_id = await store.touch_conversation(
                        conn=conn,
                        advisor_id=advisor.id,
                        phone=customer,
                        audio_default=advisor.settings.audio_default,
                        voice_note=advisor.settings.audio_reciprocal
                        and any(is_audio(item) for item in message.media),
                    )
                    message_id = await store.insert_inbound(
                        conn=conn,
                        advisor_id=advisor.id,
                        conversation_id=conversation_id,
                        message=message,
                    )
                    if message_id is None:
                        raise _DuplicateMessageError
                    opt = opt_change(message.body, settings)
                    if opt is not None:
                        await store.set_opt_out(
                            conn=conn, advisor_id=advisor.id, conversation_id=conversation_id, opted_out=opt
                        )
                        logger.info(
                            "customer opt-out changed",
                            extra={"advisor": str(advisor.id), "customer": customer, "opted_out": opt},
                        )
                    await runtime.events.publish(
                        conn,
                        "message.received",
                        {
                            "advisor_id": advisor.id,
                            "conversation_id": conversation_id,
                            "message_id": message_id,
                            "phone_number": customer,
                            "body": message.body,
                            "media": message.media,
                            "twilio_sid": message.twilio_sid,
                        },
                    )
                    await runtime.queue.configure_task(
                        ANSWER_TASK,
                        lock=conversation_lock(advisor.id, customer),
                        schedule_in={"seconds": settings.debounce_seconds},
                        connection=conn,
                    ).defer_async(
                        advisor_id=str(advisor.id),
                        conversation_id=str(conversation_id),
                        message_id=message_id,
                    )
            except _DuplicateMessageError:
                logger.info(
                    "duplicate MessageSid acknowledged again",
                    extra={"advisor": str(advisor.id), "sid": message.twilio_sid},
                )
                return twiml_ok()
    except DATABASE_UNAVAILABLE as error:
        logger.error(
            "database unavailable; asking Twilio to retry",
            extra={"error": type(error).__name__, "sid": message.twilio_sid},
        )
        return retry_later()
    logger.info(
        "message accepted",
        extra={
            "advisor": str(advisor.id),
            "advisor_number": advisor.twilio_phone_number,
            "customer": customer,
            "conversation": str(conversation_id),
            "direction": "inbound",
            "sid": message.twilio_sid,
        },
    )
    return twiml_ok()
