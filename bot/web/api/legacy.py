"""Owns the old bot's read endpoints (seed 000) for the clients that still call them.

Under `/api/legacy`, since its list (`/api/conversations`) would collide with the product's own:
`/api/legacy/conversations`, `/api/legacy/conversation/{conversation_id}` and
`/api/legacy/conversation/{conversation_id}/hubspot`. The same tokens as the rest of the API,
and the same scoping: an advisor sees the mappings of their own conversations. The bodies keep the
seed's shape: `status` is `success` or `not_found` (the latter with a 404), the record under
`mapping`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bot.web.api.auth import Caller, runtime_of
from memory.records import mappings
from memory.records.mappings import Mapping

router = APIRouter(prefix="/legacy", tags=["legacy"])

ConversationKey = Annotated[str, Path(min_length=1, max_length=200)]


class MappingFound(BaseModel):
    """The seed's answer for one conversation."""

    status: Literal["success"] = "success"
    mapping: Mapping


class HubspotFound(BaseModel):
    """The seed's answer for one conversation's HubSpot id."""

    status: Literal["success"] = "success"
    conversation_id: str
    hubspot_id: str


class MappingPage(BaseModel):
    """The seed's list, a page at a time: `count` on this page, `total` in all."""

    status: Literal["success"] = "success"
    count: int
    total: int
    mappings: list[Mapping]


class NotFound(BaseModel):
    """The seed's answer for an id it does not know (or that is another advisor's)."""

    status: Literal["not_found"] = "not_found"
    conversation_id: str


_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": NotFound}}


async def _visible_mapping(request: Request, caller: Caller, conversation_id: str) -> Mapping | None:
    """The mapping of that old id when the caller may see it (another advisor's reads as none)."""
    async with runtime_of(request).pool.connection() as conn:
        return await mappings.get_mapping(
            conn=conn, advisor_id=caller.advisor_id, conversation_id=conversation_id
        )


def _not_found(conversation_id: str) -> JSONResponse:
    return JSONResponse(NotFound(conversation_id=conversation_id).model_dump(), status_code=404)


@router.get("/conversations", response_model=MappingPage)
async def list_mappings(
    request: Request,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> MappingPage:
    """Every mapping the caller may see, by conversation id, a page at a time."""
    async with runtime_of(request).pool.connection() as conn:
        total, page = await mappings.list_mappings(
            conn=conn, advisor_id=caller.advisor_id, limit=limit, offset=offset
        )
    return MappingPage(count=len(page), total=total, mappings=page)


@router.get("/conversation/{conversation_id}", responses=_NOT_FOUND, response_model=MappingFound)
async def get_mapping(
    request: Request, caller: Caller, conversation_id: ConversationKey
) -> MappingFound | JSONResponse:
    """One old conversation's mapping: its HubSpot contact and the prospect's data."""
    mapping = await _visible_mapping(request, caller, conversation_id)
    return MappingFound(mapping=mapping) if mapping else _not_found(conversation_id)


@router.get("/conversation/{conversation_id}/hubspot", responses=_NOT_FOUND, response_model=HubspotFound)
async def get_hubspot_id(
    request: Request, caller: Caller, conversation_id: ConversationKey
) -> HubspotFound | JSONResponse:
    """One old conversation's HubSpot contact id."""
    mapping = await _visible_mapping(request, caller, conversation_id)
    if mapping is None:
        return _not_found(conversation_id)
    return HubspotFound(conversation_id=conversation_id, hubspot_id=mapping.hubspot_id)
