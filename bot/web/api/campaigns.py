"""Owns re-engagement campaigns: an approved template to a filtered list of one advisor's customers.

The list is the customers matching the filters now; the sending is the worker's, at
CAMPAIGN_RATE_PER_SECOND from the advisor's number, skipping (and counting) whoever opted out
or lacks marketing consent when their turn comes.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from advisors.models import CONTENT_SID_PATTERN
from advisors.repository import get_advisor
from bot.infra.job_queue import CAMPAIGN_TASK, campaign_lock
from bot.web.api.auth import Caller, runtime_of
from memory.records import campaigns
from memory.records.campaigns import Campaign
from memory.records.customers import CustomerFilter

router = APIRouter(tags=["campaigns"])
_FIELDS = ("name", "phone_number", "stage", "labels")


class CampaignIn(BaseModel):
    """What to send (an approved template and where its variables come from) and to whom."""

    model_config = ConfigDict(extra="forbid")

    content_sid: Annotated[str, StringConstraints(pattern=CONTENT_SID_PATTERN)]
    variables: dict[Annotated[str, StringConstraints(pattern=r"^\d{1,2}$")], str] = Field(
        default_factory=dict,
        description="Template variable → profile field: name, phone_number, stage, labels or data.<key>, "
        'e.g. {"1": "name", "2": "data.ciudad"}',
    )
    filters: CustomerFilter = Field(default_factory=CustomerFilter)
    advisor_id: UUID | None = Field(
        default=None, description="Whose customers (the admin must say; an advisor: own)"
    )

    @field_validator("variables")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        for field in value.values():
            if field not in _FIELDS and not (field.startswith("data.") and len(field) > 5):
                raise ValueError(f"unknown field {field!r}: use {', '.join(_FIELDS)} or data.<key>")
        return value


@router.post("/campaigns", response_model=Campaign, status_code=202)
async def create_campaign(request: Request, caller: Caller, campaign: CampaignIn) -> Campaign:
    """Start a campaign; 202 with its counts (recipients fixed now, sent by the worker)."""
    owner = caller.advisor_id or campaign.advisor_id
    if owner is None:
        raise HTTPException(422, "the admin names the advisor whose number sends: advisor_id")
    if caller.advisor_id is not None and campaign.advisor_id not in (None, caller.advisor_id):
        raise HTTPException(403, "an advisor sends campaigns to their own customers only")
    runtime = runtime_of(request)
    async with runtime.pool.connection() as conn, conn.transaction():
        advisor = await get_advisor(conn=conn, advisor_id=str(owner))
        if advisor is None or not advisor.is_active:
            raise HTTPException(404, "no such active advisor")
        cap = runtime.settings.campaigns_per_advisor_per_day
        if cap and await campaigns.campaigns_since(conn=conn, advisor_id=owner, hours=24) >= cap:
            raise HTTPException(
                429, f"at most {cap} campaigns a day per advisor (CAMPAIGNS_PER_ADVISOR_PER_DAY)"
            )
        campaign_id = await campaigns.create_campaign(
            conn=conn,
            advisor_id=owner,
            content_sid=campaign.content_sid,
            variables=campaign.variables,
            found=campaign.filters,
            created_by="admin" if caller.is_admin else "advisor",
        )
        await runtime.queue.configure_task(
            CAMPAIGN_TASK, lock=campaign_lock(owner), connection=conn
        ).defer_async(advisor_id=str(owner), campaign_id=campaign_id)
        created = await campaigns.get_campaign(conn=conn, advisor_id=owner, campaign_id=campaign_id)
    assert created is not None
    return created


@router.get("/campaigns/{campaign_id}", response_model=Campaign)
async def get_campaign(request: Request, caller: Caller, campaign_id: int) -> Campaign:
    """A campaign's counts: recipients, pending, sent, skipped (and why), failed."""
    async with runtime_of(request).pool.connection() as conn:
        found = await campaigns.get_campaign(conn=conn, advisor_id=caller.advisor_id, campaign_id=campaign_id)
    if found is None:
        raise HTTPException(404, "no such campaign")
    return found
