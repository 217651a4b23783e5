"""Owns `POST /webhooks/twilio`: check, route, store, enqueue, and acknowledge at once."""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

from psycopg import AsyncConnection
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from advisors.models import Advisor
from bot.infra.database import DATABASE_UNAVAILABLE, single_statements
from bot.infra.job_queue import answer_job
from bot.settings import Settings
from bot.twilio.inbound import InvalidInboundError, is_audio, read_inbound
from bot.web.commands import default_region, parse_command, run_command
from bot.web.runtime import WebRuntime
from bot.web.twilio_requests import (
    authenticated_form,
    error_response,
    read_addresses,
    retry_later,
    twiml_message,
    twiml_ok,
)
from memory.records import advisor_channel, conversations, inbound, profiles
from memory.records.models import InboundMessage

logger = logging.getLogger(__name__)


WEB_LINK_SENT = "Enlace de entrada enviado (un solo uso). Escribe #web para pedir otro."


class _NothingStoredError(Exception):
    """Rolls the transaction back when nothing was stored (a duplicate, or from our own number)."""


def opt_change(body: str, settings: Settings) -> bool | None:
    """True for a stop word, False for a start word, None for any other message."""
    word = re.sub(r"[^\w]", "", body).upper()
    if word in settings.opt_out_keywords():
        return True
    if word in settings.opt_in_keywords():
        return False
    return None


async def _advisor_command(
    runtime: WebRuntime, advisor: Advisor, message: InboundMessage, base_url: str
) -> Response:
    """Run a command the advisor sent from their own phone; a retried request gets the same answer.

    A sign-in link is a secret: what is stored of a `#web` answer says a link was sent, not the link.
    """
    async with runtime.pool.connection() as conn, conn.transaction():
        command_id = await advisor_channel.record_advisor_command(
            conn=conn, advisor_id=advisor.id, twilio_sid=message.twilio_sid, body=message.body
        )
        if command_id is None:
            reply = await advisor_channel.command_reply(
                conn=conn, advisor_id=advisor.id, twilio_sid=message.twilio_sid
            )
            return twiml_message(reply) if reply else twiml_ok()
        command = parse_command(message.body, region=default_region(advisor))
        reply = await run_command(
            command,
            conn=conn,
            advisor=advisor,
            queue=runtime.queue,
            settings=runtime.settings,
            events=runtime.events,
            console_base=base_url,
        )
        stored = WEB_LINK_SENT if command.name == "web" else reply
        await advisor_channel.finish_advisor_command(
            conn=conn, advisor_id=advisor.id, command_id=command_id, reply=stored
        )
    logger.info(
        "advisor command",
        extra={"advisor": str(advisor.id), "command": command.name, "sid": message.twilio_sid},
    )
    return twiml_message(reply)


async def _after_storing(
    conn: AsyncConnection[Any],
    runtime: WebRuntime,
    advisor: Advisor,
    customer: str,
    message: InboundMessage,
    accepted: inbound.Accepted,
    opt: bool | None,
) -> None:
    """In the same transaction: a stop or start word's consent change, and the received event."""
    assert accepted.conversation_id is not None
    if opt is not None:
        await conversations.set_opt_out(
            conn=conn, advisor_id=advisor.id, conversation_id=accepted.conversation_id, opted_out=opt
        )
        # A stop word withdraws marketing consent; a start word gives it.
        await profiles.set_consent(
            conn=conn,
            advisor_id=advisor.id,
            conversation_id=accepted.conversation_id,
            consent=not opt,
            changed_by="customer",
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
            "conversation_id": accepted.conversation_id,
            "message_id": accepted.message_id,
            "phone_number": customer,
            "body": message.body,
            "media": message.media,
            "twilio_sid": message.twilio_sid,
        },
    )


async def twilio_webhook(request: Request) -> Response:
    """Accept one inbound WhatsApp message from Twilio, unless too many are being accepted already.

    Past saturation every request would wait its turn and all of them would come back late
    (Twilio gives up after 15 s); refusing the excess at once keeps the accepted ones fast, and
    Twilio retries the refused ones. Only a read, genuine request takes a slot: a client that
    trickles its body, or sends no valid signature, never keeps Twilio's requests out.
    """
    runtime: WebRuntime = request.state.runtime
    form = await authenticated_form(request)
    if isinstance(form, Response):
        return form
    limit = runtime.settings.webhook_max_in_flight
    if limit and runtime.load.webhook_in_flight >= limit:
        runtime.load.shed()
        logger.warning("webhook overloaded; asking Twilio to retry", extra={"in_flight": limit})
        return retry_later("overloaded", seconds=1)  # shed early rather than answer everyone late
    runtime.load.webhook_in_flight += 1
    try:
        base_url = runtime.settings.public_base_url or str(request.base_url).rstrip("/")
        return await _accept_inbound(form, runtime, base_url)
    finally:
        runtime.load.webhook_in_flight -= 1


async def _accept_inbound(form: FormData, runtime: WebRuntime, base_url: str) -> Response:
    settings = runtime.settings
    addresses = read_addresses(form)
    if isinstance(addresses, Response):
        return addresses
    customer, to_number = addresses
    try:
        message = read_inbound(form)
    except InvalidInboundError as error:
        return error_response(400, str(error))

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
            return await _advisor_command(runtime, advisor, message, base_url)
        opt = opt_change(message.body, settings)
        store = functools.partial(
            inbound.accept_inbound,
            advisor_id=advisor.id,
            customer=customer,
            message=message,
            audio_default=advisor.settings.audio_default,
            voice_note=advisor.settings.audio_reciprocal and any(is_audio(item) for item in message.media),
            job=answer_job(runtime.queue, advisor.id, delay_seconds=settings.debounce_seconds),
        )
        if opt is None and not runtime.events.enabled:
            # The usual message: one statement, one round trip (memory.records.inbound).
            async with single_statements(runtime.pool) as conn:
                accepted = await store(conn=conn)
        else:
            async with runtime.pool.connection() as conn:
                try:
                    async with conn.transaction():
                        accepted = await store(conn=conn)
                        if accepted.message_id is None:
                            raise _NothingStoredError
                        await _after_storing(conn, runtime, advisor, customer, message, accepted, opt)
                except _NothingStoredError:
                    pass
        if accepted.from_own_number:
            # One of our own Twilio numbers: answering would let two advisors' bots talk for ever.
            logger.warning(
                "message from one of our own Twilio numbers ignored",
                extra={"advisor": str(advisor.id), "from_number": customer, "sid": message.twilio_sid},
            )
            return twiml_ok()
        if accepted.message_id is None:
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
            "conversation": str(accepted.conversation_id),
            "direction": "inbound",
            "sid": message.twilio_sid,
        },
    )
    return twiml_ok()
