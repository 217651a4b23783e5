"""Owns the worker's side of draft mode: telling the advisor of a draft, and timing drafts out.

In draft mode the AI's answer is kept (`memory.records.drafts`) instead of sent. The advisor's
phone gets it with the number to approve it by (`#ok <tel>`); the console and the API show it.
A draft nobody settles in DRAFT_TIMEOUT_MINUTES becomes a hand-over, whose brief carries it.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from advisors import texts as catalogue
from advisors.models import Advisor
from advisors.repository import get_advisor
from bot.infra.job_queue import DRAFT_TIMEOUT_TASK, NOTICE_TASK
from bot.worker.notices import draft_notice
from bot.worker.parts import Outcome, WorkerParts, log_facts
from memory.records import advisor_channel, conversations, drafts, profiles
from memory.records.messages import latest_inbound_id, mark_outbound
from memory.records.models import Conn, Conversation, Message

logger = logging.getLogger(__name__)


async def announce_draft(
    parts: WorkerParts, advisor: Advisor, conversation: Conversation, *, draft_id: int, body: str
) -> None:
    """Send the draft to the advisor's phone and publish `draft.created`."""
    async with parts.pool.connection() as conn, conn.transaction():
        await _announce(parts, conn, advisor, conversation, draft_id=draft_id, body=body)
    logger.info("reply kept as a draft for the advisor", extra={**log_facts(advisor, conversation)})


async def _announce(
    parts: WorkerParts, conn: Conn, advisor: Advisor, conversation: Conversation, *, draft_id: int, body: str
) -> None:
    profile = await profiles.get_profile(
        conn=conn, advisor_id=advisor.id, conversation_id=conversation.conversation_id
    )
    notice, variables = draft_notice(
        conversation.phone_number, profile.name if profile else None, body, advisor.language()
    )
    notice_id = await advisor_channel.insert_advisor_notice(
        conn=conn, advisor_id=advisor.id, body=notice, template_variables=variables
    )
    await parts.queue.configure_task(NOTICE_TASK, connection=conn).defer_async(
        advisor_id=str(advisor.id), notice_id=notice_id
    )
    await parts.events.publish(conn, "draft.created", _draft_event(conversation, draft_id, body))


def _draft_event(conversation: Conversation, draft_id: int, body: str) -> dict[str, Any]:
    return {
        "advisor_id": conversation.advisor_id,
        "conversation_id": conversation.conversation_id,
        "phone_number": conversation.phone_number,
        "draft_id": draft_id,
        "body": body,
    }


async def keep_as_draft(
    parts: WorkerParts, advisor: Advisor, conversation: Conversation, ai_parts: list[Message], *, reason: str
) -> None:
    """AI parts caught unsent by a switch to draft mode: cancelled, and kept as one draft instead."""
    body = "\n\n".join(part.body for part in ai_parts if part.body).strip()
    async with parts.pool.connection() as conn, conn.transaction():
        for part in ai_parts:
            await mark_outbound(
                conn=conn, advisor_id=advisor.id, message_id=part.id, status="cancelled", error_message=reason
            )
        if not body:
            return
        newest = await latest_inbound_id(
            conn=conn, advisor_id=advisor.id, conversation_id=conversation.conversation_id
        )
        draft_id = await drafts.insert_draft(
            conn=conn,
            advisor_id=advisor.id,
            conversation_id=conversation.conversation_id,
            reply_to=newest or 0,
            body=body,
            sources=ai_parts[0].sources or None,
        )
        await parts.queue.configure_task(
            DRAFT_TIMEOUT_TASK,
            schedule_in={"seconds": parts.settings.draft_timeout_minutes * 60},
            connection=conn,
        ).defer_async(
            advisor_id=str(advisor.id),
            conversation_id=str(conversation.conversation_id),
            draft_id=draft_id,
        )
        await _announce(parts, conn, advisor, conversation, draft_id=draft_id, body=body)


async def time_out_draft(
    parts: WorkerParts, *, advisor_id: UUID, conversation_id: UUID, draft_id: int
) -> Outcome:
    """A draft still waiting after DRAFT_TIMEOUT_MINUTES: the conversation is handed to the advisor.

    The hand-over comes first: were recording the timeout to fail after it, the retry finds the
    AI already off and does not tell the advisor twice.
    """
    async with parts.pool.connection() as conn:
        advisor_row = await get_advisor(conn=conn, advisor_id=str(advisor_id))
        conversation = await conversations.get_conversation(
            conn=conn, advisor_id=advisor_id, conversation_id=conversation_id
        )
        waiting = await drafts.get_draft(
            conn=conn, advisor_id=advisor_id, conversation_id=conversation_id, draft_id=draft_id
        )
    if advisor_row is None or conversation is None or waiting is None or waiting.status != "pending":
        return Outcome("already_decided")
    minutes = f"{parts.settings.draft_timeout_minutes:g}"
    await parts.flags.hand_over(
        advisor_id=str(advisor_id),
        phone=conversation.phone_number,
        reason=catalogue.text("handover.draft_timeout", advisor_row.language(), minutes=minutes),
        category="customer_request",
        waiting_draft=waiting.body,
    )
    async with parts.pool.connection() as conn, conn.transaction():
        settled = await drafts.decide_draft(
            conn=conn, advisor_id=advisor_id, draft_id=draft_id, status="timed_out", decided_by="system"
        )
        if settled is not None:
            await parts.events.publish(
                conn, "draft.timed_out", _draft_event(conversation, draft_id, waiting.body)
            )
    logger.info("draft waited too long; handed to the advisor", extra=log_facts(advisor_row, conversation))
    return Outcome("timed_out" if settled is not None else "already_decided")
