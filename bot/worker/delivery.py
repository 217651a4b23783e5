"""Owns delivery: sending a conversation's recorded, unsent replies through Twilio, exactly once.

Every reply is recorded (`pending`) before Twilio is called and marked `sending` just before the
call (an answer's first part is recorded `sending` by the turn's end, which checks the same
things); a retry that finds one `sending` asks Twilio's message list before sending it again. The
fate of each reply (sent, refused, given up) is stored and published as an event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from uuid import UUID

from advisors.models import Advisor
from advisors.repository import get_advisor
from bot.infra.database import maybe_transaction
from bot.twilio.choices import Choices
from bot.twilio.sender import PermanentSendError, SendResult
from bot.worker.billing import message_billing
from bot.worker.choices import content_for
from bot.worker.drafts import keep_as_draft
from bot.worker.parts import Outcome, WorkerParts, log_facts
from memory.records import conversations
from memory.records import messages as message_records
from memory.records.models import Conversation, Message

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 1000
PART_POLL_SECONDS = 0.1
INACTIVE_REASON = "not sent: the advisor was deactivated"


class AdvisorInactiveError(Exception):
    """The advisor was deactivated after this reply was queued: it is not sent."""


TAKEN_OVER_REASON = "not sent: a person paused the AI after this reply was written"


class TakenOverError(Exception):
    """A person paused the AI after this AI reply was written: it is not sent."""


DRAFT_MODE_REASON = "not sent: the conversation was switched to draft mode; kept as a draft"


class DraftModeError(Exception):
    """The conversation was switched to draft mode after this AI reply was written: it waits."""


def message_event(conversation: Conversation, message: Message) -> dict[str, Any]:
    """The data of a `message.sent` / `message.failed` event."""
    return {
        "advisor_id": conversation.advisor_id,
        "conversation_id": conversation.conversation_id,
        "phone_number": conversation.phone_number,
        "message_id": message.id,
        "author": message.author,
        "body": message.body,
    }


async def deliver_pending(parts: WorkerParts, *, advisor_id: UUID, conversation_id: UUID) -> Outcome:
    """Send whatever is recorded and unsent in one conversation (an advisor's manual replies)."""
    async with parts.pool.connection() as conn:
        advisor = await get_advisor(conn=conn, advisor_id=str(advisor_id))
        conversation = await conversations.get_conversation(
            conn=conn, advisor_id=advisor_id, conversation_id=conversation_id
        )
    if advisor is None or conversation is None:
        return Outcome("gone")
    return Outcome("delivered", await deliver(parts, advisor, conversation))


async def deliver(parts: WorkerParts, advisor: Advisor, conversation: Conversation) -> int:
    """Send every recorded, unsent reply of this conversation; return how many went out."""
    async with parts.pool.connection() as conn:
        current = await conversations.get_conversation(
            conn=conn, advisor_id=advisor.id, conversation_id=conversation.conversation_id
        )
        pending = await message_records.pending_outbound(
            conn=conn, advisor_id=advisor.id, conversation_id=conversation.conversation_id
        )
    if current is None:
        return await _refuse_all(parts, advisor, pending, "not sent: the conversation no longer exists")
    return await send_recorded(parts, advisor, current, pending)


async def send_recorded(
    parts: WorkerParts,
    advisor: Advisor,
    conversation: Conversation,
    pending: list[Message],
    *,
    cleared: int | None = None,
) -> int:
    """Send these recorded replies in order; return how many went out.

    `conversation` must be fresh (read with the replies, or after recording them): a customer
    who opted out since they were queued gets none of them. `cleared` is a reply this attempt
    has just recorded `sending` with its checks (`TurnEnd.cleared`): it goes without asking again.
    """
    if conversation.opted_out:
        return await _refuse_all(parts, advisor, pending, "not sent: the customer opted out")
    sent = 0
    for message in pending:
        try:
            result = await _send_once(parts, advisor, conversation, message, cleared=message.id == cleared)
        except PermanentSendError as error:
            await _record_refusal(parts, advisor, conversation, message, error)
            continue
        except AdvisorInactiveError:
            logger.warning(
                "advisor deactivated: nothing more is sent", extra=log_facts(advisor, conversation)
            )
            remaining = pending[pending.index(message) :]
            return sent + await _refuse_all(parts, advisor, remaining, INACTIVE_REASON)
        except (TakenOverError, DraftModeError) as stopped:
            remaining = pending[pending.index(message) :]
            ai_parts = [m for m in remaining if m.author == "ai" and not (m.payload or {}).get("draft_id")]
            if isinstance(stopped, DraftModeError):
                logger.info(
                    "switched to draft mode: the AI's remaining parts wait as a draft",
                    extra=log_facts(advisor, conversation),
                )
                await keep_as_draft(parts, advisor, conversation, ai_parts, reason=DRAFT_MODE_REASON)
            else:
                logger.info(
                    "a person took over: the AI's remaining parts are not sent",
                    extra=log_facts(advisor, conversation),
                )
                await _refuse_all(parts, advisor, ai_parts, TAKEN_OVER_REASON, status="cancelled")
            # A person's own messages, and drafts a person approved, still go.
            others = [m for m in remaining if m not in ai_parts]
            return sent + await send_recorded(parts, advisor, conversation, others)
        async with parts.pool.connection() as conn, maybe_transaction(conn, parts.events.enabled):
            await message_records.mark_outbound(
                conn=conn,
                advisor_id=advisor.id,
                message_id=message.id,
                status=result.status,
                twilio_sid=result.sid,
                billing=message_billing(
                    parts.pricing, advisor, message, conversation.phone_number, result.sid
                ),
            )
            await parts.events.publish(
                conn,
                "message.sent",
                {**message_event(conversation, message), "twilio_sid": result.sid, "status": result.status},
            )
        sent += 1
        following = pending[pending.index(message) + 1 :]
        if result.sid and following and _same_reply(message, following[0]):
            await _wait_until_sent(parts, advisor, message.id)
        facts = {**log_facts(advisor, conversation), "direction": "outbound", "sid": result.sid}
        if result.sid is None:
            logger.info("dry run: no Twilio credentials, message stored but not sent", extra=facts)
        else:
            logger.info("message sent", extra={**facts, "author": message.author})
    return sent


def _same_reply(part: Message, then: Message) -> bool:
    """Whether `then` is the next WhatsApp message of the same reply as `part`."""
    return part.author == then.author and part.part is not None and then.part == part.part + 1


async def _wait_until_sent(parts: WorkerParts, advisor: Advisor, message_id: int) -> None:
    """Hold the next part until Twilio reports this one sent, for PART_DELIVERY_WAIT_SECONDS at most.

    Twilio accepting a message does not mean WhatsApp has it: two parts sent back to back can
    reach the customer swapped. The status callback says when one left; without callbacks
    (no PUBLIC_BASE_URL) there is nothing to wait for.
    """
    bound = parts.settings.part_delivery_wait_seconds
    if not parts.sender.reports_delivery or bound <= 0:
        return
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        async with parts.pool.connection() as conn:
            if await message_records.left_twilio(conn=conn, advisor_id=advisor.id, message_id=message_id):
                return
        await asyncio.sleep(PART_POLL_SECONDS)
    logger.info("next part sent without the previous one's report", extra={"message": message_id})


async def _refuse_all(
    parts: WorkerParts, advisor: Advisor, pending: list[Message], reason: str, *, status: str = "failed"
) -> int:
    """Nothing more reaches this customer: their unsent replies fail (or are cancelled) with `reason`."""
    if pending:
        async with parts.pool.connection() as conn, conn.transaction():
            for message in pending:
                await message_records.mark_outbound(
                    conn=conn,
                    advisor_id=advisor.id,
                    message_id=message.id,
                    status=status,
                    error_message=reason,
                )
    return 0


async def _send_once(
    parts: WorkerParts, advisor: Advisor, conversation: Conversation, message: Message, *, cleared: bool
) -> SendResult:
    """Send one reply, unless an attempt that never heard back had already sent it.

    `cleared`: this attempt recorded it `sending` a moment ago, with the checks below.
    """
    template = message.payload or {}
    if cleared:
        return await _hand_to_twilio(parts, advisor, conversation, message)
    if message.status == "sending":
        found = await parts.sender.find_sent(
            from_number=advisor.twilio_phone_number,
            to_number=conversation.phone_number,
            body="" if template.get("content_sid") or template.get("choices") else message.body,
            with_media=bool(template.get("media_url")),
            since=message.created_at,
        )
        if found is not None:
            logger.warning(
                "an earlier attempt had already sent this message; not resending",
                extra={**log_facts(advisor, conversation), "sid": found.sid},
            )
            return found
    async with parts.pool.connection() as conn:
        permission = await message_records.mark_sending(
            conn=conn, advisor_id=advisor.id, message_id=message.id
        )
    if permission == "advisor_inactive":
        raise AdvisorInactiveError
    if permission == "taken_over":
        raise TakenOverError
    if permission == "draft_mode":
        raise DraftModeError
    return await _hand_to_twilio(parts, advisor, conversation, message)


async def _hand_to_twilio(
    parts: WorkerParts, advisor: Advisor, conversation: Conversation, message: Message
) -> SendResult:
    template = message.payload or {}
    content_sid, variables = template.get("content_sid"), template.get("content_variables")
    if template.get("choices"):  # buttons or a list: sent as the Content of their shape
        choices = Choices.from_payload(template["choices"])
        content_sid, variables = await content_for(parts, advisor, choices), choices.content_variables()
    return await parts.sender.send(
        from_number=advisor.twilio_phone_number,
        to_number=conversation.phone_number,
        body=message.body,
        content_sid=content_sid,
        content_variables=variables,
        media_url=template.get("media_url"),
    )


async def _record_refusal(
    parts: WorkerParts,
    advisor: Advisor,
    conversation: Conversation,
    message: Message,
    error: PermanentSendError,
) -> None:
    """Store Twilio's refusal on the message and report it; it is not retried."""
    reason = str(error)[:MAX_ERROR_CHARS]
    async with parts.pool.connection() as conn, conn.transaction():
        await message_records.mark_outbound(
            conn=conn,
            advisor_id=advisor.id,
            message_id=message.id,
            status="failed",
            error_code=error.code,
            error_message=reason,
        )
        await parts.events.publish(
            conn,
            "message.failed",
            {**message_event(conversation, message), "error_code": error.code, "error_message": reason},
        )
    logger.error(
        "Twilio refused a message", extra={**log_facts(advisor, conversation), "direction": "outbound"}
    )


async def fail_pending(
    parts: WorkerParts,
    *,
    advisor_id: UUID,
    conversation_id: UUID,
    reason: str,
    up_to_inbound_id: int | None = None,
) -> int:
    """Record that the queue gave up retrying; return how many unsent replies failed.

    Unsent replies become `failed`. With `up_to_inbound_id` (an answer job), the customer's
    unanswered messages up to it become `failed` too, so the API shows why they got no
    answer and the recovery sweep does not retry them for ever; newer ones have their own job.
    """
    reason = reason[:MAX_ERROR_CHARS]
    async with parts.pool.connection() as conn, conn.transaction():
        if up_to_inbound_id is not None:
            await message_records.mark_processed(
                conn=conn,
                advisor_id=advisor_id,
                conversation_id=conversation_id,
                up_to_id=up_to_inbound_id,
                outcome="failed",
                error_message=reason,
            )
        conversation = await conversations.get_conversation(
            conn=conn, advisor_id=advisor_id, conversation_id=conversation_id
        )
        pending = await message_records.pending_outbound(
            conn=conn, advisor_id=advisor_id, conversation_id=conversation_id
        )
        for message in pending:
            await message_records.mark_outbound(
                conn=conn, advisor_id=advisor_id, message_id=message.id, status="failed", error_message=reason
            )
            if conversation is not None:
                await parts.events.publish(
                    conn, "message.failed", {**message_event(conversation, message), "error_message": reason}
                )
    return len(pending)
