"""Owns `POST /webhooks/twilio/status`: Twilio's delivery reports for the messages we sent."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from bot.infra.database import DATABASE_UNAVAILABLE
from bot.twilio.inbound import InvalidInboundError, check_fields, read_sid
from bot.web.runtime import WebRuntime
from bot.web.twilio_requests import (
    authenticated_form,
    error_response,
    read_addresses,
    retry_later,
    twiml_ok,
)
from memory.records import messages

logger = logging.getLogger(__name__)


async def delivery_status(request: Request) -> Response:
    """Record a delivery status; late or repeated callbacks never move a status backwards."""
    runtime: WebRuntime = request.state.runtime
    form = await authenticated_form(request)
    if isinstance(form, Response):
        return form
    try:
        check_fields(form)
        sid = read_sid(form, "MessageSid", "SmsSid")
    except InvalidInboundError as error:
        return error_response(400, str(error))
    status = str(form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not status:
        return error_response(400, "missing field: MessageStatus")
    addresses = read_addresses(form)
    if isinstance(addresses, Response):
        return addresses
    sender_number, _ = addresses
    error_code = str(form.get("ErrorCode") or "").strip() or None
    try:
        # The message was sent from the advisor's number: only that advisor's rows can change.
        advisor = await runtime.resolver.resolve(sender_number)
        if advisor is None:
            logger.info("status for a number with no advisor ignored", extra={"sid": sid})
            return twiml_ok()
        async with runtime.pool.connection() as conn:
            changed = await messages.record_delivery_status(
                conn=conn, advisor_id=advisor.id, twilio_sid=sid, status=status, error_code=error_code
            )
    except DATABASE_UNAVAILABLE:
        return retry_later()
    logger.info(
        "delivery status",
        extra={
            "advisor": str(advisor.id),
            "sid": sid,
            "status": status,
            "applied": changed,
            "error_code": error_code,
        },
    )
    return twiml_ok()
