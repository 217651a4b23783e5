"""Owns the CRM links: which conversations belong to which contact of an external system."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request

from bot.web.api.auth import Caller, runtime_of
from bot.web.api.conversations import load_visible
from bot.web.api.schemas import ExternalId, SystemName
from memory.records import conversations, listing
from memory.records.models import Conversation

router = APIRouter(tags=["crm"])

MAX_SYSTEMS = 20


@router.get("/conversations/{conversation_id}/crm", response_model=dict[str, str])
async def get_crm(request: Request, caller: Caller, conversation_id: str) -> dict[str, str]:
    """The conversation's external ids, by system (for example {"hubspot": "1234"})."""
    async with runtime_of(request).pool.connection() as conn:
        conversation = await load_visible(conn, caller, conversation_id)
    return dict(conversation.crm_refs)


@router.put("/conversations/{conversation_id}/crm", response_model=dict[str, str])
async def put_crm(
    request: Request, caller: Caller, conversation_id: str, refs: dict[SystemName, ExternalId]
) -> dict[str, str]:
    """Replace the conversation's external ids."""
    if len(refs) > MAX_SYSTEMS:
        raise HTTPException(
            422, [{"loc": ["body"], "msg": f"at most {MAX_SYSTEMS} systems", "type": "value_error"}]
        )
    async with runtime_of(request).pool.connection() as conn, conn.transaction():
        conversation = await load_visible(conn, caller, conversation_id)
        await conversations.set_crm_refs(
            conn=conn,
            advisor_id=conversation.advisor_id,
            conversation_id=conversation.conversation_id,
            refs=refs,
        )
    return refs


@router.get("/crm/{system}/{external_id}", response_model=list[Conversation])
async def find_by_crm(
    request: Request,
    caller: Caller,
    system: Annotated[str, Path(pattern=r"^[a-z0-9_\-]{1,50}$")],
    external_id: Annotated[str, Path(pattern=r"^[^\x00]{1,200}$")],
) -> list[Conversation]:
    """The conversations linked to one contact of an external system."""
    async with runtime_of(request).pool.connection() as conn:
        return await listing.find_by_crm_ref(
            conn=conn, advisor_id=caller.advisor_id, system=system, external_id=external_id
        )
