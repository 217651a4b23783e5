"""Owns the customer profile endpoints: read and edit who the customer of a conversation is."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from bot.web.api.auth import Caller, runtime_of
from bot.web.api.conversations import load_visible
from memory.records import profiles
from memory.records.profiles import CustomerProfile, Stage

router = APIRouter(tags=["profiles"])

# PostgreSQL text cannot hold NUL: refused here as 422 rather than failing there.
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"^[^\x00]*$")
]


class ProfilePatch(BaseModel):
    """The fields to change; `data` keys are merged into what is stored, the rest replace it."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = (
        None
    )
    labels: Annotated[list[Label], Field(max_length=50)] | None = None
    notes: Annotated[Text, StringConstraints(max_length=8000)] | None = None
    data: Annotated[dict[Label, Any], Field(max_length=50)] | None = None
    stage: Stage | None = None
    marketing_consent: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> ProfilePatch:
        if not self.model_fields_set:
            raise ValueError("give at least one of: " + ", ".join(profiles.EDITABLE))
        return self


@router.get("/conversations/{conversation_id}/profile", response_model=CustomerProfile)
async def get_profile(request: Request, caller: Caller, conversation_id: str) -> CustomerProfile:
    """Who the customer is: name, labels, notes, data, stage, consent, first and last interaction."""
    async with runtime_of(request).pool.connection() as conn:
        conversation = await load_visible(conn, caller, conversation_id)
        profile = await profiles.get_profile(
            conn=conn, advisor_id=conversation.advisor_id, conversation_id=conversation.conversation_id
        )
    if profile is None:  # pragma: no cover - the conversation was just read
        raise HTTPException(404, "no such conversation")
    return profile


@router.patch("/conversations/{conversation_id}/profile", response_model=CustomerProfile)
async def patch_profile(
    request: Request, caller: Caller, conversation_id: str, patch: ProfilePatch
) -> CustomerProfile:
    """Change what is known of the customer; only the fields given are touched."""
    changes = {name: getattr(patch, name) for name in patch.model_fields_set}
    if changes.get("labels") is not None:
        changes["labels"] = list(dict.fromkeys(changes["labels"]))  # each label once, in order
    async with runtime_of(request).pool.connection() as conn, conn.transaction():
        conversation = await load_visible(conn, caller, conversation_id)
        profile = await profiles.update_profile(
            conn=conn,
            advisor_id=conversation.advisor_id,
            conversation_id=conversation.conversation_id,
            changes=changes,
            changed_by="admin" if caller.is_admin else "advisor",
        )
    if profile is None:  # pragma: no cover - the conversation was just read, in this transaction
        raise HTTPException(404, "no such conversation")
    return profile
