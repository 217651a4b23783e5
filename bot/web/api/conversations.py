"""Owns the conversation endpoints: list, read, switch the AI or voice, and answer by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request

from advisors.repository import get_advisor
from bot.twilio.choices import ChoicesRefusedError, build_choices
from bot.web.advisor_replies import ManualReplyRefusedError, queue_manual_reply
from bot.web.api.auth import Caller, Principal, runtime_of, uuid_or_404
from bot.web.api.schemas import (
    ConversationDetail,
    ConversationPage,
    ConversationPatch,
    ManualReplyIn,
    ManualReplyOut,
    MessagePage,
)
from bot.web.conversation_switches import switch_ai, switch_audio
from bot.web.drafts import switch_ai_mode
from memory.records import listing
from memory.records.handover_briefs import latest_handover
from memory.records.models import Conn, Conversation

router = APIRouter(tags=["conversations"])


async def load_visible(conn: Conn, caller: Principal, conversation_id: str) -> Conversation:
    """The conversation, if the caller may see it; 404 otherwise, whether it exists or not."""
    conversation = await listing.find_visible_conversation(
        conn=conn, advisor_id=caller.advisor_id, conversation_id=uuid_or_404(conversation_id, "conversation")
    )
    if conversation is None:
        raise HTTPException(404, "no such conversation")
    return conversation


def bad_cursor() -> HTTPException:
    """The 422 for a cursor this server did not issue."""
    return HTTPException(422, [{"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "value_error"}])


@router.get("/conversations", response_model=ConversationPage)
async def list_conversations(
    request: Request,
    caller: Caller,
    advisor_id: UUID | None = None,
    ai_attention: bool | None = None,
    updated_since: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationPage:
    """Conversations in creation order, filtered; each appears once however many arrive meanwhile."""
    scope = caller.advisor_id
    if scope is not None and advisor_id is not None and advisor_id != scope:
        return ConversationPage(items=[], next_cursor=None)
    async with runtime_of(request).pool.connection() as conn:
        try:
            items, next_cursor = await listing.list_conversations(
                conn=conn,
                advisor_id=scope or advisor_id,
                ai_attention=ai_attention,
                updated_since=updated_since,
                after=cursor,
                limit=limit,
            )
        except listing.BadCursorError:
            raise bad_cursor() from None
    return ConversationPage(items=items, next_cursor=next_cursor)


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(
    request: Request,
    caller: Caller,
    conversation_id: str,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ConversationDetail:
    """One conversation with a page of its messages, oldest first."""
    async with runtime_of(request).pool.connection() as conn:
        conversation = await load_visible(conn, caller, conversation_id)
        try:
            items, next_cursor = await listing.list_messages(
                conn=conn,
                advisor_id=conversation.advisor_id,
                conversation_id=conversation.conversation_id,
                after=cursor,
                limit=limit,
            )
        except listing.BadCursorError:
            raise bad_cursor() from None
        handover = await latest_handover(
            conn=conn, advisor_id=conversation.advisor_id, conversation_id=conversation.conversation_id
        )
    page = MessagePage(items=items, next_cursor=next_cursor)
    return ConversationDetail(
        **conversation.model_dump(exclude={"window_open", "waiting"}), messages=page, handover=handover
    )


@router.patch("/conversations/{conversation_id}", response_model=Conversation)
async def patch_conversation(
    request: Request, caller: Caller, conversation_id: str, patch: ConversationPatch
) -> Conversation:
    """Switch the AI off or on, its mode (auto or draft), or the voice replies, for this conversation."""
    runtime = runtime_of(request)
    changed_by = "admin" if caller.is_admin else "advisor"
    async with runtime.pool.connection() as conn, conn.transaction():
        conversation = await load_visible(conn, caller, conversation_id)
        if patch.ai_attention is not None:
            await switch_ai(
                conn=conn,
                events=runtime.events,
                conversation=conversation,
                enabled=patch.ai_attention,
                changed_by=changed_by,
            )
        if patch.audio_available is not None:
            await switch_audio(conn=conn, conversation=conversation, enabled=patch.audio_available)
        if "ai_mode" in patch.model_fields_set:
            await switch_ai_mode(
                conn=conn,
                events=runtime.events,
                conversation=conversation,
                mode=patch.ai_mode,
                changed_by=changed_by,
            )
        return await load_visible(conn, caller, conversation_id)


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=ManualReplyOut,
    status_code=202,
    responses={
        409: {
            "description": "advisor deactivated, customer opted out, or outside the 24-hour "
            "window without a template"
        },
        422: {"description": "options that break a WhatsApp limit (the detail says which)"},
    },
)
async def post_message(
    request: Request, caller: Caller, conversation_id: str, reply: ManualReplyIn
) -> ManualReplyOut:
    """Send a message by hand from the advisor's number; the AI pauses for this customer."""
    runtime = runtime_of(request)
    async with runtime.pool.connection() as conn, conn.transaction():
        conversation = await load_visible(conn, caller, conversation_id)
        advisor = await get_advisor(conn=conn, advisor_id=str(conversation.advisor_id))
        assert advisor is not None
        try:
            choices = (
                build_choices(reply.text or "", reply.options, reply.options_kind)
                if reply.options is not None
                else None
            )
            message_id = await queue_manual_reply(
                conn=conn,
                queue=runtime.queue,
                settings=runtime.settings,
                advisor=advisor,
                conversation=conversation,
                text=reply.text,
                content_sid=reply.content_sid,
                content_variables=reply.content_variables,
                choices=choices,
                events=runtime.events,
            )
        except ChoicesRefusedError as error:
            raise HTTPException(422, str(error)) from None
        except ManualReplyRefusedError as error:
            raise HTTPException(409, str(error)) from None
    return ManualReplyOut(
        message_id=message_id, conversation_id=conversation.conversation_id, status="pending"
    )
