"""Owns `POST /webhooks/twilio/status`: Twilio's delivery reports for the messages we sent."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.runtime import Runtime
from bot.webhook import (
    DATABASE_UNAVAILABLE,
    authenticated_form,
    read_addresses,
    retry_later,
    twiml_ok,
)
from memory import store

logger = logging.getLogger(__name__)


async def twilio_status(request: Request) -> Response:
    """Record a delivery status; late or repeated callbacks never move a status backwards."""
    runtime: Runtime = request.state.runtime
    form = await authenticated_form(request)
    if isinstance(form, Response):
        return form
    sid = str(form.get("MessageSid") or form.get("SmsSid") or "").strip()
    status = str(form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not sid or not status:
        return PlainTextResponse("missing field: MessageSid or MessageStatus\n", status_code=400)
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
            changed = await store.record_delivery_status(
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
