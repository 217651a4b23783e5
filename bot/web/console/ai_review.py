"""Owns what a person does in the console about the AI's work: its mode, its drafts, flags on its answers.

Each answers with the conversation page, like the page's other forms (`bot.web.console.pages`).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import Response

from advisors.models import AI_MODES
from advisors.repository import get_advisor
from bot.web.advisor_replies import ManualReplyRefusedError
from bot.web.console.guard import Acting, runtime_of
from bot.web.console.pages import conversation_page_response, visible_conversation
from bot.web.drafts import DRAFT_BODY_LIMIT, DraftRefusedError, approve_draft, reject_draft, switch_ai_mode
from memory.records import message_flags

router = APIRouter(prefix="/console", include_in_schema=False)


@router.post("/c/{conversation_id}/mode", name="console_ai_mode")
async def switch_mode_page(request: Request, who: Acting, conversation_id: str) -> Response:
    """Let the AI answer on its own, leave drafts for approval, or follow the advisor's setting."""
    chosen = who.form.get("mode", "")
    if chosen not in ("", *AI_MODES):
        return await conversation_page_response(request, who, conversation_id, problem="—", status_code=422)
    runtime = runtime_of(request)
    async with runtime.pool.connection() as conn, conn.transaction():
        conversation = await visible_conversation(conn, who, conversation_id)
        await switch_ai_mode(
            conn=conn,
            events=runtime.events,
            conversation=conversation,
            mode="draft" if chosen == "draft" else "auto" if chosen == "auto" else None,
            changed_by="admin" if who.is_admin else "advisor",
        )
    return await conversation_page_response(request, who, conversation_id)


@router.post("/c/{conversation_id}/drafts/{draft_id}/{decision}", name="console_draft")
async def decide_draft_page(
    request: Request, who: Acting, conversation_id: str, draft_id: str, decision: str
) -> Response:
    """Send the AI's draft (as written or as edited in the box), or throw it away."""
    if decision not in ("approve", "reject") or not draft_id.isdigit() or len(draft_id) > 18:
        raise HTTPException(404, who.t("error.not_found"))
    runtime = runtime_of(request)
    decided_by = "admin" if who.is_admin else "advisor"
    try:
        async with runtime.pool.connection() as conn, conn.transaction():
            conversation = await visible_conversation(conn, who, conversation_id)
            if decision == "reject":
                await reject_draft(
                    conn=conn,
                    events=runtime.events,
                    conversation=conversation,
                    draft_id=int(draft_id),
                    decided_by=decided_by,
                )
            else:
                advisor = await get_advisor(conn=conn, advisor_id=str(conversation.advisor_id))
                assert advisor is not None
                await approve_draft(
                    conn=conn,
                    queue=runtime.queue,
                    events=runtime.events,
                    advisor=advisor,
                    conversation=conversation,
                    draft_id=int(draft_id),
                    body=who.form.get("body", "").strip()[:DRAFT_BODY_LIMIT] or None,
                    decided_by=decided_by,
                )
    except (DraftRefusedError, ManualReplyRefusedError) as error:
        return await conversation_page_response(
            request, who, conversation_id, problem=str(error), status_code=409
        )
    return await conversation_page_response(request, who, conversation_id)


@router.post("/c/{conversation_id}/messages/{message_id}/flag", name="console_flag")
async def flag_page(request: Request, who: Acting, conversation_id: str, message_id: str) -> Response:
    """Say what was wrong with one of the AI's answers (counted on the dashboard)."""
    category = who.form.get("category", "")
    if category not in message_flags.FLAG_CATEGORIES or not message_id.isdigit() or len(message_id) > 18:
        return await conversation_page_response(request, who, conversation_id, problem="—", status_code=422)
    comment = who.form.get("comment", "").strip()[: message_flags.COMMENT_CHARS] or None
    try:
        async with runtime_of(request).pool.connection() as conn, conn.transaction():
            conversation = await visible_conversation(conn, who, conversation_id)
            await message_flags.flag_message(
                conn=conn,
                advisor_id=conversation.advisor_id,
                conversation_id=conversation.conversation_id,
                message_id=int(message_id),
                category=category,  # type: ignore[arg-type]  # checked against the categories above
                comment=comment,
                flagged_by="admin" if who.is_admin else "advisor",
            )
    except message_flags.NotAnAiMessageError:
        raise HTTPException(404, who.t("error.not_found")) from None
    return await conversation_page_response(request, who, conversation_id)
