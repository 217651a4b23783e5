"""Owns the worker's changes to a conversation's flags: the agent tools' database side, and hand-back.

The agent's tools (`bot.agent.tools`) say *what* to change; `PostgresConversationFlags` does it,
always for the advisor + customer of the run, in one transaction with its notice and events.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import procrastinate
from psycopg_pool import AsyncConnectionPool

from advisors.hours import Availability
from advisors.repository import get_advisor
from advisors.texts import DEFAULT_LANGUAGE, spoken_time
from bot.infra.events import EventPublisher, attention_event
from bot.infra.job_queue import NOTICE_TASK
from bot.worker.notices import handover_notice, notice_variables
from bot.worker.parts import Outcome, WorkerParts
from memory.records import advisor_channel, conversations, profiles
from memory.records.handover_briefs import HandoverCategory, compose_brief

logger = logging.getLogger(__name__)


def _availability_hint(now: Availability | None) -> str:
    """The tool's answer to the agent: whether the advisor is there now, or when they are back."""
    if now is None or now.available or now.back_at is None:
        return "El asesor ya fue avisado y seguirá esta conversación."
    back = spoken_time(now.back_at, "es", now=now.now)
    return (
        f"El asesor ya fue avisado, pero ahora está fuera de horario y vuelve {back} "
        f"({now.back_at:%d/%m/%Y %H:%M}, {now.back_at.tzinfo}). Dile al cliente, en su idioma, "
        "cuándo le responderá el asesor."
    )


class PostgresConversationFlags:
    """The agent tools' view of a conversation's flags, backed by `chat_history`."""

    def __init__(
        self, pool: AsyncConnectionPool[Any], queue: procrastinate.App, events: EventPublisher
    ) -> None:
        self._pool = pool
        self._queue = queue
        self._events = events

    async def hand_over(
        self,
        *,
        advisor_id: str,
        phone: str,
        reason: str,
        category: HandoverCategory,
        waiting_draft: str | None = None,
    ) -> str:
        """Switch the AI off for this advisor + customer only, record why, and tell the advisor.

        Returns what the agent should tell the customer of the advisor's availability.
        """
        advisor = UUID(advisor_id)
        async with self._pool.connection() as conn, conn.transaction():
            found = await get_advisor(conn=conn, advisor_id=advisor_id)
            language = found.language() if found else DEFAULT_LANGUAGE
            changed = await conversations.set_ai_attention(
                conn=conn, advisor_id=advisor, phone=phone, enabled=False, changed_by="ai", reason=reason
            )
            if changed:
                conversation = await conversations.find_conversation(
                    conn=conn, advisor_id=advisor, phone=phone
                )
                assert conversation is not None
                brief = await compose_brief(
                    conn=conn,
                    advisor_id=advisor,
                    conversation_id=conversation.conversation_id,
                    reason=reason,
                    category=category,
                    waiting_draft=waiting_draft,
                )
                kept = brief.model_dump()
                notice_id = await advisor_channel.insert_advisor_notice(
                    conn=conn,
                    advisor_id=advisor,
                    body=handover_notice(phone, brief, language),
                    template_variables=notice_variables(phone, brief, language),
                )
                await self._queue.configure_task(NOTICE_TASK, connection=conn).defer_async(
                    advisor_id=advisor_id, notice_id=notice_id
                )
                await conversations.record_handover(
                    conn=conn,
                    advisor_id=advisor,
                    conversation_id=conversation.conversation_id,
                    reason=reason,
                    category=category,
                    brief=kept,
                    notice_id=notice_id,
                )
                switched_off = attention_event(conversation, False, "ai")
                await self._events.publish(
                    conn,
                    "handover.requested",
                    {**switched_off, "reason": reason, "category": category, "brief": kept},
                )
                await self._events.publish(conn, "ai_attention.changed", switched_off)
        logger.info("handover requested", extra={"advisor": advisor_id, "customer": phone})
        return _availability_hint(found.availability() if found else None)

    async def set_audio(self, *, advisor_id: str, phone: str, enabled: bool) -> None:
        """Record the customer's voice-reply preference for this advisor only."""
        async with self._pool.connection() as conn:
            await conversations.set_audio_available(
                conn=conn, advisor_id=UUID(advisor_id), phone=phone, enabled=enabled
            )

    async def update_profile(
        self,
        *,
        advisor_id: str,
        phone: str,
        name: str | None,
        facts: dict[str, str] | None,
        labels: list[str] | None,
        stage: str | None,
        marketing_consent: bool | None = None,
    ) -> None:
        """Write what the agent learnt about this advisor's customer: labels add, facts merge."""
        advisor = UUID(advisor_id)
        async with self._pool.connection() as conn, conn.transaction():
            current = await profiles.find_profile(conn=conn, advisor_id=advisor, phone=phone)
            if current is None:
                return
            changes: dict[str, Any] = {}
            if name:
                changes["name"] = name
            if facts:
                changes["data"] = facts
            if labels:
                changes["labels"] = list(dict.fromkeys([*current.labels, *labels]))
            if stage in profiles.STAGES:
                changes["stage"] = stage
            if marketing_consent is not None:
                changes["marketing_consent"] = marketing_consent
            if changes:
                await profiles.update_profile(
                    conn=conn,
                    advisor_id=advisor,
                    conversation_id=current.conversation_id,
                    changes=changes,
                    changed_by="ai",
                )


async def resume_if_idle(
    parts: WorkerParts, *, advisor_id: UUID, conversation_id: UUID, idle_minutes: int
) -> Outcome:
    """Give the conversation back to the AI if the advisor paused it and then went quiet."""
    async with parts.pool.connection() as conn, conn.transaction():
        resumed = await conversations.resume_ai_if_advisor_idle(
            conn=conn, advisor_id=advisor_id, conversation_id=conversation_id, idle_minutes=idle_minutes
        )
        if resumed:
            conversation = await conversations.get_conversation(
                conn=conn, advisor_id=advisor_id, conversation_id=conversation_id
            )
            assert conversation is not None
            await parts.events.publish(
                conn, "ai_attention.changed", attention_event(conversation, True, "auto_resume")
            )
    return Outcome("resumed" if resumed else "still_with_advisor")
