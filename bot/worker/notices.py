"""Owns the notices an advisor gets on their personal phone (from their own Twilio number)."""

from __future__ import annotations

from uuid import UUID

from advisors.repository import get_advisor
from advisors.texts import Language, text
from bot.twilio.sender import PermanentSendError
from bot.worker.parts import Outcome, WorkerParts
from memory.records import advisor_channel


def handover_notice(phone: str, reason: str, language: Language) -> str:
    """The WhatsApp text that tells an advisor a customer is waiting for them."""
    return text("notice.handover", language, phone=phone, reason=reason)


async def send_notice(parts: WorkerParts, *, advisor_id: UUID, notice_id: int) -> Outcome:
    """Send one recorded notice to the advisor's personal phone; a refusal is stored, not retried."""
    async with parts.pool.connection() as conn:
        advisor = await get_advisor(conn=conn, advisor_id=str(advisor_id))
        notice = await advisor_channel.get_advisor_notice(
            conn=conn, advisor_id=advisor_id, notice_id=notice_id
        )
    if advisor is None or notice is None or notice["status"] != "pending":
        return Outcome("nothing_pending")
    try:
        result = await parts.sender.send(
            from_number=advisor.twilio_phone_number, to_number=advisor.phone_number, body=notice["body"]
        )
    except PermanentSendError as error:
        async with parts.pool.connection() as conn:
            await advisor_channel.mark_advisor_notice(
                conn=conn,
                advisor_id=advisor_id,
                notice_id=notice_id,
                status="failed",
                error_code=error.code,
                error_message=str(error)[:1000],
            )
        return Outcome("failed")
    async with parts.pool.connection() as conn:
        await advisor_channel.mark_advisor_notice(
            conn=conn, advisor_id=advisor_id, notice_id=notice_id, status=result.status, twilio_sid=result.sid
        )
    return Outcome("notified", 1)
