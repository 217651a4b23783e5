"""Owns the advisor endpoints: the list (admin), per-day statistics, and the routing cache."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from advisors.invalidation import announce_change
from advisors.models import Advisor
from advisors.repository import get_advisor, list_advisor_rows
from bot.web.api.auth import Caller, Principal, runtime_of, uuid_or_404
from bot.web.api.schemas import AdvisorOut, CacheInvalidated, OutcomesOut, StatsDay, StatsOut
from bot.web.outcomes import outcome_report
from memory.records import stats
from memory.records.models import Conn

router = APIRouter(tags=["advisors"])


@router.get("/advisors", response_model=list[AdvisorOut])
async def list_advisors(request: Request, caller: Caller) -> list[AdvisorOut]:
    """Every registered advisor (admin only)."""
    caller.require_admin()
    async with runtime_of(request).pool.connection() as conn:
        rows = await list_advisor_rows(conn=conn)
    return [AdvisorOut.model_validate(row) for row in rows]


Days = Annotated[int, Query(ge=1, le=366, description="How many days back, today included")]


async def _visible_advisor(conn: Conn, caller: Principal, advisor_id: str) -> Advisor:
    """The advisor a figure is asked of: any for the admin, only themselves for an advisor (404)."""
    target = uuid_or_404(advisor_id, "advisor")
    advisor = (
        await get_advisor(conn=conn, advisor_id=str(target))
        if caller.is_admin or caller.advisor_id == target
        else None
    )
    if advisor is None:
        raise HTTPException(404, "no such advisor")
    return advisor


def _period(days: int) -> tuple[date, date]:
    until = datetime.now(UTC).date()
    return until - timedelta(days=days - 1), until


@router.get("/advisors/{advisor_id}/stats", response_model=StatsOut)
async def advisor_stats(request: Request, caller: Caller, advisor_id: str, days: Days = 30) -> StatsOut:
    """Per day: conversations, inbound messages, AI and human replies, handovers, first-response time."""
    since, until = _period(days)
    async with runtime_of(request).pool.connection() as conn:
        advisor = await _visible_advisor(conn, caller, advisor_id)
        rows = await stats.advisor_stats(conn=conn, advisor_id=advisor.id, since=since, until=until)
    return StatsOut(advisor_id=advisor.id, days=[StatsDay.model_validate(row) for row in rows])


@router.get("/advisors/{advisor_id}/outcomes", response_model=OutcomesOut)
async def advisor_outcomes(request: Request, caller: Caller, advisor_id: str, days: Days = 30) -> OutcomesOut:
    """What the AI carried in the period and what it cost (docs/outcomes.md defines each figure)."""
    since, until = _period(days)
    async with runtime_of(request).pool.connection() as conn:
        advisor = await _visible_advisor(conn, caller, advisor_id)
        report = await outcome_report(conn=conn, advisor=advisor, since=since, until=until)
    return OutcomesOut(advisor_id=advisor.id, **report.as_dict())


@router.post("/admin/cache/invalidate", response_model=CacheInvalidated, tags=["admin"])
async def invalidate_cache(request: Request, caller: Caller) -> CacheInvalidated:
    """Drop the advisor routing cache in every running process (admin only)."""
    caller.require_admin()
    runtime = runtime_of(request)
    runtime.resolver.invalidate()
    async with runtime.pool.connection() as conn:
        await announce_change(conn)
    return CacheInvalidated(status="invalidated")
