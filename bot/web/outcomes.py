"""Owns the outcome report: what the AI carried and what it cost, per advisor and period.

The rows come from memory.records.outcomes and memory.records.stats; what needs the advisor's
working hours (who wrote outside them) is decided here. docs/outcomes.md defines each figure.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from advisors.models import Advisor
from memory.records import outcomes, stats
from memory.records.models import Conn


@dataclass(frozen=True)
class OutcomeReport:
    """One advisor's period, as the dashboard, the API and the CSV give it."""

    since: date
    until: date
    conversations: int
    ai_answered: int
    coverage: float | None
    booked: int
    autonomous: int
    assisted: int
    autonomous_share: float | None
    assisted_share: float | None
    handovers_by_category: dict[str, int]
    after_hours: int
    after_hours_answered: int
    median_first_response_ai_seconds: float | None
    median_first_response_human_seconds: float | None
    came_back_within_7_days: int
    funnel: dict[str, int]
    cost_usd: float
    cost_per_booked_lead_usd: float | None

    def as_dict(self) -> dict[str, Any]:
        """The report's fields by name (the API's body, the CSV's columns)."""
        return asdict(self)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _median_seconds(pairs: list[tuple[datetime | None, datetime | None]]) -> float | None:
    waits = [(later - first).total_seconds() for first, later in pairs if first and later]
    return round(statistics.median(waits), 1) if waits else None


async def outcome_report(
    *, conn: Conn, advisor: Advisor, since: date, until: date, per_day: list[dict[str, Any]] | None = None
) -> OutcomeReport:
    """Count one advisor's outcomes of the period [since, until] (UTC days).

    `per_day` is the period's `stats.advisor_stats`, when the caller already read it (the
    dashboard): the cost is summed from it instead of reading it again.
    """
    rows = await outcomes.active_conversations(conn=conn, advisor_id=advisor.id, since=since, until=until)
    wrote = [row for row in rows if row.first_inbound is not None]
    booked = [row for row in rows if row.booked_at is not None]
    counted = await outcomes.bookings(conn=conn, advisor_id=advisor.id, booked=booked)
    outside = [row for row in wrote if not advisor.availability(row.first_inbound).available]
    if per_day is None:
        per_day = await stats.advisor_stats(conn=conn, advisor_id=advisor.id, since=since, until=until)
    cost = sum((stats.day_cost(day) for day in per_day), Decimal(0))
    return OutcomeReport(
        since=since,
        until=until,
        conversations=len(wrote),
        ai_answered=sum(1 for row in wrote if row.ai_answered),
        coverage=_share(sum(1 for row in wrote if row.ai_answered), len(wrote)),
        booked=len(booked),
        autonomous=counted.autonomous,
        assisted=counted.assisted,
        autonomous_share=_share(counted.autonomous, len(wrote)),
        assisted_share=_share(counted.assisted, len(wrote)),
        handovers_by_category=await outcomes.handovers_by_category(
            conn=conn, advisor_id=advisor.id, since=since, until=until
        ),
        after_hours=len(outside),
        after_hours_answered=sum(1 for row in outside if row.first_reply is not None),
        median_first_response_ai_seconds=_median_seconds(
            [(r.first_inbound, r.first_ai_reply) for r in wrote]
        ),
        median_first_response_human_seconds=_median_seconds(
            [(r.first_inbound, r.first_human_reply) for r in wrote]
        ),
        came_back_within_7_days=counted.came_back,
        funnel={
            "new": len(wrote),
            "interested": sum(1 for row in wrote if row.reached_interested),
            "booked": sum(1 for row in wrote if row.booked_at is not None),
        },
        cost_usd=float(cost),
        cost_per_booked_lead_usd=round(float(cost) / len(booked), 6) if booked else None,
    )
