"""Owns the feedback endpoints: advisors flag what was wrong with the AI's answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from bot.web.api.auth import Caller, runtime_of
from bot.web.api.conversations import load_visible
from bot.web.api.schemas import FlagIn, Refusal
from memory.records import message_flags
from memory.records.message_flags import MessageFlag

router = APIRouter(tags=["feedback"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such conversation, or no AI message with that id in it", "model": Refusal},
}


@router.post(
    "/conversations/{conversation_id}/messages/{message_id}/flags",
    response_model=MessageFlag,
    status_code=201,
    responses=_RESPONSES,
)
async def flag_message(
    request: Request, caller: Caller, conversation_id: str, message_id: str, flag: FlagIn
) -> MessageFlag:
    """Flag one of the AI's answers: incorrect, inappropriate, incomplete, outdated or other."""
    if not message_id.isdigit() or len(message_id) > 18:
        raise HTTPException(404, "no such AI message")
    async with runtime_of(request).pool.connection() as conn, conn.transaction():
        conversation = await load_visible(conn, caller, conversation_id)
        try:
            return await message_flags.flag_message(
                conn=conn,
                advisor_id=conversation.advisor_id,
                conversation_id=conversation.conversation_id,
                message_id=int(message_id),
                category=flag.category,
                comment=flag.comment,
                flagged_by="admin" if caller.is_admin else "advisor",
            )
        except message_flags.NotAnAiMessageError:
            raise HTTPException(404, "no such AI message in this conversation") from None


@router.get("/conversations/{conversation_id}/flags", response_model=list[MessageFlag], responses=_RESPONSES)
async def list_flags(request: Request, caller: Caller, conversation_id: str) -> list[MessageFlag]:
    """The flags on this conversation's AI answers, oldest first."""
    async with runtime_of(request).pool.connection() as conn:
        conversation = await load_visible(conn, caller, conversation_id)
        return await message_flags.conversation_flags(
            conn=conn, advisor_id=conversation.advisor_id, conversation_id=conversation.conversation_id
        )
