"""Owns the draft endpoints: the AI's replies that wait for approval in draft mode."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from advisors.repository import get_advisor
from bot.web.advisor_replies import ManualReplyRefusedError
from bot.web.api.auth import Caller, runtime_of
from bot.web.api.conversations import load_visible
from bot.web.api.schemas import DraftApproval, DraftPage, Refusal
from bot.web.drafts import DraftRefusedError, approve_draft, reject_draft
from memory.records import drafts
from memory.records.drafts import Draft

router = APIRouter(tags=["drafts"])


@router.get("/conversations/{conversation_id}/drafts", response_model=DraftPage)
async def list_drafts(request: Request, caller: Caller, conversation_id: str) -> DraftPage:
    """The AI's drafts for this conversation (draft mode), newest first, with what became of each."""
    async with runtime_of(request).pool.connection() as conn:
        conversation = await load_visible(conn, caller, conversation_id)
        advisor = await get_advisor(conn=conn, advisor_id=str(conversation.advisor_id))
        assert advisor is not None
        items = await drafts.list_drafts(
            conn=conn, advisor_id=conversation.advisor_id, conversation_id=conversation.conversation_id
        )
    mode = conversation.ai_mode or advisor.settings.ai_mode
    return DraftPage(ai_mode="draft" if mode == "draft" else "auto", items=items)


_DRAFT_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such conversation or draft", "model": Refusal},
    409: {
        "model": Refusal,
        "description": "the draft is no longer waiting (approved, rejected, superseded by a newer "
        "customer message, timed out), or it may not be sent now (advisor deactivated, customer "
        "opted out, 24-hour window closed); nothing changed",
    },
}


def _draft_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise HTTPException(404, "no such draft")
    return int(raw)


def _refused(error: DraftRefusedError) -> HTTPException:
    return HTTPException(404 if error.reason == "not_found" else 409, str(error))


@router.post(
    "/conversations/{conversation_id}/drafts/{draft_id}/approve",
    response_model=Draft,
    responses=_DRAFT_RESPONSES,
)
async def approve(
    request: Request,
    caller: Caller,
    conversation_id: str,
    draft_id: str,
    approval: DraftApproval | None = None,
) -> Draft:
    """Send the draft from the advisor's number, as written or as `body`; the AI remembers what was sent."""
    runtime = runtime_of(request)
    try:
        async with runtime.pool.connection() as conn, conn.transaction():
            conversation = await load_visible(conn, caller, conversation_id)
            advisor = await get_advisor(conn=conn, advisor_id=str(conversation.advisor_id))
            assert advisor is not None
            return await approve_draft(
                conn=conn,
                queue=runtime.queue,
                events=runtime.events,
                advisor=advisor,
                conversation=conversation,
                draft_id=_draft_id(draft_id),
                body=approval.body if approval else None,
                decided_by="admin" if caller.is_admin else "advisor",
            )
    except DraftRefusedError as error:
        raise _refused(error) from None
    except ManualReplyRefusedError as error:
        raise HTTPException(409, str(error)) from None


@router.post(
    "/conversations/{conversation_id}/drafts/{draft_id}/reject",
    response_model=Draft,
    responses=_DRAFT_RESPONSES,
)
async def reject(request: Request, caller: Caller, conversation_id: str, draft_id: str) -> Draft:
    """Throw the draft away: nothing is sent and the AI never remembers it."""
    runtime = runtime_of(request)
    try:
        async with runtime.pool.connection() as conn, conn.transaction():
            conversation = await load_visible(conn, caller, conversation_id)
            return await reject_draft(
                conn=conn,
                events=runtime.events,
                conversation=conversation,
                draft_id=_draft_id(draft_id),
                decided_by="admin" if caller.is_admin else "advisor",
            )
    except DraftRefusedError as error:
        raise _refused(error) from None
