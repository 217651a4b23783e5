"""Owns an advisor's own messages to a customer (relay command or API): the rules, then the queue.

The web side only records the message and enqueues its delivery; the worker sends it, adds it to
the AI's memory and reports its fate, exactly as for AI replies.
"""

from __future__ import annotations

from typing import Any

import procrastinate

from advisors.models import Advisor
from bot.infra.events import EventPublisher, attention_event
from bot.infra.job_queue import DELIVER_TASK, RESUME_TASK, conversation_lock
from bot.settings import Settings
from bot.twilio.choices import Choices
from memory.records import messages
from memory.records.models import Conn, Conversation


class ManualReplyRefusedError(Exception):
    """The message may not be sent; `reason` is a stable code, the text says what to do."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_may_send(
    advisor: Advisor, conversation: Conversation, *, body: str, content_sid: str | None = None
) -> None:
    """Refuse what may not go from the advisor's number now (one rule for manual replies and drafts).

    Raises:
        ManualReplyRefusedError: the advisor is deactivated, the customer opted out, there is
            nothing to send, or the 24-hour window is closed and no approved template was given.
    """
    if not advisor.is_active:
        raise ManualReplyRefusedError(
            "the advisor is deactivated; nothing is sent from their number until an admin "
            "activates them again",
            reason="advisor_inactive",
        )
    if conversation.opted_out:
        raise ManualReplyRefusedError(
            "the customer opted out (wrote a stop word); nothing can be sent until they opt in",
            reason="opted_out",
        )
    if not body and not content_sid:
        raise ManualReplyRefusedError("the message is empty", reason="empty")
    if not content_sid and not conversation.session_window_open():
        raise ManualReplyRefusedError(
            "more than 24 hours have passed since the customer's last message: WhatsApp only "
            "allows an approved template now (send it with content_sid)",
            reason="window_closed",
        )


async def queue_manual_reply(
    *,
    conn: Conn,
    queue: procrastinate.App,
    settings: Settings,
    advisor: Advisor,
    conversation: Conversation,
    text: str | None,
    events: EventPublisher,
    content_sid: str | None = None,
    content_variables: dict[str, str] | None = None,
    choices: Choices | None = None,
) -> int:
    """Record and enqueue one manual message inside the caller's transaction; return its id.

    With `choices` the message is their buttons or list (the question is their text), sent as
    the Content of their shape exactly as the AI's are; like free text, only inside the window.

    Raises:
        ManualReplyRefusedError: the advisor is deactivated, the customer opted out, the
            24-hour window is closed and no approved template (`content_sid`) was given, or
            there is nothing to send.
    """
    body = choices.as_text() if choices is not None else (text or "").strip()
    check_may_send(advisor, conversation, body=body, content_sid=None if choices else content_sid)
    payload: dict[str, Any] | None = None
    if choices is not None:
        payload = {"choices": choices.to_payload()}
    elif content_sid:
        payload = {"content_sid": content_sid, "content_variables": content_variables or {}}
        body = body or f"[template {content_sid}]"
    message_id = await messages.insert_manual_reply(
        conn=conn,
        advisor_id=advisor.id,
        conversation_id=conversation.conversation_id,
        body=body,
        payload=payload,
        pause_ai=settings.ai_pause_on_manual_reply,
    )
    if settings.ai_pause_on_manual_reply and conversation.ai_attention:
        await events.publish(conn, "ai_attention.changed", attention_event(conversation, False, "advisor"))
    lock = conversation_lock(advisor.id, conversation.conversation_id)
    await queue.configure_task(DELIVER_TASK, lock=lock, connection=conn).defer_async(
        advisor_id=str(advisor.id), conversation_id=str(conversation.conversation_id)
    )
    if settings.ai_pause_on_manual_reply and settings.ai_resume_after_minutes:
        # No conversation lock here: a job holding the lock blocks every later job of the
        # conversation until it runs, even while it is only scheduled for later.
        await queue.configure_task(
            RESUME_TASK,
            schedule_in={"minutes": settings.ai_resume_after_minutes},
            connection=conn,
        ).defer_async(advisor_id=str(advisor.id), conversation_id=str(conversation.conversation_id))
    return message_id
