"""Owns sending a re-engagement campaign: one template per customer, at a bounded rate per number.

One job per campaign, and campaigns of one advisor run one at a time (a queue lock on the
advisor), so the advisor's number never sends faster than CAMPAIGN_RATE_PER_SECOND. Each
customer is checked just before the send: opted out, or without marketing consent, means
skipped and counted. A send is an outbound message like any other (delivery reports, Twilio's
error code on failure); a worker that dies mid-campaign leaves the rest pending, and the job,
run again, goes on from there.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

from advisors.repository import get_advisor
from bot.worker.delivery import deliver
from bot.worker.parts import Outcome, WorkerParts
from memory.records import campaigns, conversations
from memory.records.campaigns import Recipient

logger = logging.getLogger(__name__)


def template_values(variables: dict[str, str], recipient: Recipient) -> dict[str, str] | str:
    """The template's variables from the customer's profile, or the field that has no value.

    Fields: `name`, `phone_number`, `stage`, `labels` (comma-separated), `data.<key>`.
    """
    values: dict[str, str] = {}
    for position, field in variables.items():
        value: Any
        if field.startswith("data."):
            value = recipient.data.get(field.removeprefix("data."))
        elif field == "labels":
            value = ", ".join(recipient.labels)
        else:
            value = getattr(recipient, field, None) if field in ("name", "phone_number", "stage") else None
        if value in (None, ""):
            return field
        values[position] = str(value)[:200]
    return values


async def send_campaign(parts: WorkerParts, *, advisor_id: UUID, campaign_id: int) -> Outcome:
    """Send to every pending recipient of the campaign, then mark it finished."""
    async with parts.pool.connection() as conn:
        advisor = await get_advisor(conn=conn, advisor_id=str(advisor_id))
        campaign = await campaigns.get_campaign(conn=conn, advisor_id=advisor_id, campaign_id=campaign_id)
    if advisor is None or campaign is None:
        return Outcome("gone")
    if not advisor.is_active:
        async with parts.pool.connection() as conn:
            await campaigns.hold_campaign(conn=conn, campaign_id=campaign_id, reason="advisor_inactive")
        logger.warning("campaign held: the advisor is inactive", extra={"campaign": campaign_id})
        return Outcome("advisor_inactive")
    pause = 1.0 / parts.settings.campaign_rate_per_second
    sent = 0
    while True:
        async with parts.pool.connection() as conn, conn.transaction():
            # Read again before every send: a deactivation stops the campaign at the next one.
            if not await campaigns.advisor_is_active(conn=conn, advisor_id=advisor_id):
                await campaigns.hold_campaign(conn=conn, campaign_id=campaign_id, reason="advisor_inactive")
                logger.warning("campaign held: the advisor was deactivated", extra={"campaign": campaign_id})
                return Outcome("advisor_inactive", sent)
            recipient = await campaigns.next_recipient(conn=conn, campaign_id=campaign_id)
            if recipient is None:
                await campaigns.finish_campaign(conn=conn, campaign_id=campaign_id)
                break
            reason = _why_not(recipient)
            if reason is None and await campaigns.recently_sent(
                conn=conn,
                advisor_id=advisor_id,
                conversation_id=recipient.conversation_id,
                content_sid=campaign.content_sid,
                campaign_id=campaign_id,
                hours=parts.settings.campaign_repeat_hours,
            ):
                reason = "recently_sent"
            values = template_values(campaign.variables, recipient) if reason is None else {}
            if isinstance(values, str):
                reason = f"no value for {values}"
            if reason is not None:
                await campaigns.settle_recipient(
                    conn=conn,
                    campaign_id=campaign_id,
                    conversation_id=recipient.conversation_id,
                    status="skipped",
                    reason=reason,
                )
                continue
            assert isinstance(values, dict)
            message_id = await campaigns.insert_campaign_message(
                conn=conn,
                advisor_id=advisor_id,
                conversation_id=recipient.conversation_id,
                campaign_id=campaign_id,
                content_sid=campaign.content_sid,
                content_variables=values,
            )
            await campaigns.settle_recipient(
                conn=conn,
                campaign_id=campaign_id,
                conversation_id=recipient.conversation_id,
                status="sent",
                message_id=message_id,
            )
            conversation = await conversations.get_conversation(
                conn=conn, advisor_id=advisor_id, conversation_id=recipient.conversation_id
            )
        assert conversation is not None
        sent += await deliver(parts, advisor, conversation)
        await _note_failure(parts, advisor_id, campaign_id, recipient, message_id)
        await asyncio.sleep(pause)
    logger.info("campaign finished", extra={"campaign": campaign_id, "sent": sent})
    return Outcome("campaign_finished", sent)


def _why_not(recipient: Recipient) -> str | None:
    if recipient.opted_out:
        return "opted_out"
    if not recipient.marketing_consent:
        return "no_consent"
    return None


async def _note_failure(
    parts: WorkerParts, advisor_id: UUID, campaign_id: int, recipient: Recipient, message_id: int
) -> None:
    """A send Twilio refused makes the recipient `failed`, with Twilio's code as the reason."""
    async with parts.pool.connection() as conn:
        refused = await campaigns.refusal_of(conn=conn, advisor_id=advisor_id, message_id=message_id)
        if refused is not None:
            await campaigns.settle_recipient(
                conn=conn,
                campaign_id=campaign_id,
                conversation_id=recipient.conversation_id,
                status="failed",
                reason=refused,
                message_id=message_id,
            )
