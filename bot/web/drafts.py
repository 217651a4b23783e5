"""Owns a person's decisions on the AI's drafts and on a conversation's AI mode (API, console, phone).

An approved draft goes out exactly like a manual reply (the same refusals: advisor deactivated,
opted out, 24 h window closed) and is recorded as the AI's turn, as written or as edited, so the
AI remembers what the customer actually read. A draft whose customer wrote again is superseded:
approving it would answer a conversation that has moved on.
"""

from __future__ import annotations

from typing import Any

import procrastinate

from advisors.models import Advisor, AiMode
from bot.infra.events import EventPublisher
from bot.infra.job_queue import DELIVER_TASK, conversation_lock
from bot.twilio.sender import split_reply
from bot.web.advisor_replies import check_may_send
from memory.records import conversations, drafts, messages
from memory.records.drafts import Draft
from memory.records.models import Conn, Conversation

DRAFT_BODY_LIMIT = 4800  # an edited draft: at most three WhatsApp messages


class DraftRefusedError(Exception):
    """The draft cannot be decided on: `reason` is not_found, decided or superseded."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


async def _waiting_draft(conn: Conn, conversation: Conversation, draft_id: int | None) -> Draft:
    """The draft to decide on, locked with its conversation; the newest pending one when no id."""
    await conversations.lock_conversation(
        conn=conn, advisor_id=conversation.advisor_id, conversation_id=conversation.conversation_id
    )
    if draft_id is None:
        found = await drafts.pending_draft(
            conn=conn, advisor_id=conversation.advisor_id, conversation_id=conversation.conversation_id
        )
    else:
        found = await drafts.get_draft(
            conn=conn,
            advisor_id=conversation.advisor_id,
            conversation_id=conversation.conversation_id,
            draft_id=draft_id,
        )
    if found is None:
        raise DraftRefusedError("no such draft", reason="not_found")
    if found.status != "pending":
        raise DraftRefusedError(f"this draft is no longer waiting: it was {found.status}", reason="decided")
    newest = await messages.latest_inbound_id(
        conn=conn, advisor_id=conversation.advisor_id, conversation_id=conversation.conversation_id
    )
    if newest is not None and newest > found.reply_to:
        # Only refused here: the customer's message that overtook it marks it superseded in its
        # own statement (memory.records.inbound); a write here would roll back with the refusal.
        raise DraftRefusedError(
            "the customer wrote again after this draft was written; it was superseded", reason="superseded"
        )
    return found


async def approve_draft(
    *,
    conn: Conn,
    queue: procrastinate.App,
    events: EventPublisher,
    advisor: Advisor,
    conversation: Conversation,
    draft_id: int | None,
    body: str | None,
    decided_by: str,
) -> Draft:
    """Send a draft (edited when `body` differs) inside the caller's transaction; return it settled.

    `draft_id` None approves the conversation's newest waiting draft (`#ok`).

    Raises:
        DraftRefusedError: no such draft, already settled, or superseded.
        ManualReplyRefusedError: it may not be sent now; the draft keeps waiting.
    """
    draft = await _waiting_draft(conn, conversation, draft_id)
    text = (body if body is not None else draft.body).strip()[:DRAFT_BODY_LIMIT]
    check_may_send(advisor, conversation, body=text)
    edited = text != draft.body.strip()
    ids = await messages.insert_approved_draft(
        conn=conn,
        advisor_id=advisor.id,
        conversation_id=conversation.conversation_id,
        draft_id=draft.id,
        reply_to=draft.reply_to,
        parts=split_reply(text),
        sources=draft.sources or None,
    )
    settled = await drafts.decide_draft(
        conn=conn,
        advisor_id=advisor.id,
        draft_id=draft.id,
        status="edited" if edited else "approved",
        decided_by=decided_by,
        sent_body=text,
        message_id=ids[0],
    )
    assert settled is not None  # locked above
    lock = conversation_lock(advisor.id, conversation.conversation_id)
    await queue.configure_task(DELIVER_TASK, lock=lock, connection=conn).defer_async(
        advisor_id=str(advisor.id), conversation_id=str(conversation.conversation_id)
    )
    await events.publish(conn, "draft.approved", {**_event(conversation, settled), "edited": edited})
    return settled


async def reject_draft(
    *, conn: Conn, events: EventPublisher, conversation: Conversation, draft_id: int, decided_by: str
) -> Draft:
    """Throw a draft away (nothing is sent, the AI never remembers it); return it settled.

    Raises:
        DraftRefusedError: no such draft, already settled, or superseded.
    """
    draft = await _waiting_draft(conn, conversation, draft_id)
    settled = await drafts.decide_draft(
        conn=conn,
        advisor_id=conversation.advisor_id,
        draft_id=draft.id,
        status="rejected",
        decided_by=decided_by,
    )
    assert settled is not None
    await events.publish(conn, "draft.rejected", _event(conversation, settled))
    return settled


def _event(conversation: Conversation, draft: Draft) -> dict[str, Any]:
    return {
        "advisor_id": conversation.advisor_id,
        "conversation_id": conversation.conversation_id,
        "phone_number": conversation.phone_number,
        "draft_id": draft.id,
        "status": draft.status,
        "body": draft.sent_body or draft.body,
    }


async def switch_ai_mode(
    *, conn: Conn, events: EventPublisher, conversation: Conversation, mode: AiMode | None, changed_by: str
) -> None:
    """Set this conversation's AI mode (None: follow the advisor's), inside the caller's transaction."""
    if mode == conversation.ai_mode:
        return
    await conversations.set_ai_mode(
        conn=conn, advisor_id=conversation.advisor_id, conversation_id=conversation.conversation_id, mode=mode
    )
    await events.publish(
        conn,
        "ai_mode.changed",
        {
            "advisor_id": conversation.advisor_id,
            "conversation_id": conversation.conversation_id,
            "phone_number": conversation.phone_number,
            "ai_mode": mode,
            "changed_by": changed_by,
        },
    )
