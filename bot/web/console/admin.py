"""Owns the admin's console: advisors (add, edit, (de)activate, tokens, sign-in links) and the team dashboard.

Every change goes through the `advisors` and `advisor_tokens` tables, whose triggers tell every
process: a new advisor routes at once, a deactivation ends the advisor's sessions and tokens.
"""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import psycopg
from fastapi import APIRouter, HTTPException, Query, Request
from markupsafe import Markup
from starlette.responses import Response

from advisors.console_access import issue_link
from advisors.hours import InvalidHoursError, format_week, parse_week, zone
from advisors.models import DEFAULT_TIME_ZONE, Advisor
from advisors.repository import add_advisor, get_advisor, list_advisor_rows, set_active, update_advisor
from advisors.texts import LANGUAGES, language_code
from advisors.tokens import issue_token, list_tokens, revoke_tokens
from advisors.voices import voice_choices
from bot.web.console.advisor_form import FIELDS, field_errors, missing_name
from bot.web.console.charts import colour, stacked_bars
from bot.web.console.guard import Acting, Actor, SignedIn, Viewer, runtime_of
from bot.web.console.rendering import render
from bot.web.csv_cells import csv_text
from bot.web.outcomes import OutcomeReport, outcome_report
from memory.records import stats
from memory.records.handover_briefs import HANDOVER_CATEGORIES
from memory.records.message_flags import FLAG_CATEGORIES
from memory.records.models import Conn

router = APIRouter(prefix="/console/admin", include_in_schema=False)

METRICS = ("conversations", "inbound", "ai_replies", "human_replies", "handovers")
DRAFT_OUTCOMES = ("approved", "edited", "rejected", "timed_out")  # superseded: nobody's decision
MAX_DAYS = 366
# What a day cost (memory.records.stats): the three amounts in USD, then the model's tokens.
COST_COLUMNS = (*stats.MONEY_COLUMNS, "prompt_tokens", "cached_tokens", "completion_tokens")


# The form's placeholder, written in the page's language (advisors.hours.format_week).
HOURS_EXAMPLE = {"mon": ["08:00-12:00", "14:00-18:00"], "sat": ["09:00-13:00"]}


def _advisor_id(who: Viewer, value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise HTTPException(404, who.t("error.not_found")) from None


def _database_problem(error: psycopg.Error, who: Viewer) -> str:
    """What the database refused in an advisor's numbers, in the page's language, as one line."""
    labels = {"twilio_phone_number": who.t("admin.twilio_number"), "phone_number": who.t("admin.phone")}
    return " ".join(
        f"{labels[field]}: {said}" if field in labels else said
        for field, said in field_errors(error, who.language).items()
    )


async def _advisors_page(
    request: Request,
    who: Viewer,
    *,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The list and the add form; a refused form comes back with its errors and what was typed."""
    async with runtime_of(request).pool.connection() as conn:
        rows = await list_advisor_rows(conn=conn)
    return render(
        request,
        "admin_advisors.html",
        who,
        status_code=status_code,
        advisors=rows,
        errors=errors or {},
        typed=typed or {},
    )


@router.get("/advisors", name="console_advisors")
async def advisors_page(request: Request, who: SignedIn) -> Response:
    """Every advisor, and the form to add one."""
    who.require_admin()
    return await _advisors_page(request, who)


@router.post("/advisors", name="console_add_advisor")
async def add_advisor_page(request: Request, who: Acting) -> Response:
    """Register an advisor; they route at once (every process drops its cache entry)."""
    who.require_admin()
    form = who.form
    typed = {field: form.get(field, "").strip()[:100] for field in FIELDS}
    name = typed["name"]
    if not name:
        return await _advisors_page(
            request, who, errors=missing_name(who.language), typed=typed, status_code=422
        )
    try:
        async with runtime_of(request).pool.connection() as conn, conn.transaction():
            await add_advisor(
                conn=conn,
                name=name,
                phone_number=form.get("phone_number", ""),
                twilio_phone_number=form.get("twilio_phone_number", ""),
            )
    except psycopg.Error as error:
        if isinstance(error, psycopg.OperationalError):
            raise
        errors = field_errors(error, who.language)
        return await _advisors_page(request, who, errors=errors, typed=typed, status_code=422)
    return await _advisors_page(request, who)


async def _advisor_page(
    request: Request,
    who: Viewer,
    advisor_id: UUID,
    *,
    problem: str | None = None,
    secret: str | None = None,
    secret_kind: str | None = None,
    status_code: int = 200,
) -> Response:
    async with runtime_of(request).pool.connection() as conn:
        advisor = await get_advisor(conn=conn, advisor_id=str(advisor_id))
        if advisor is None:
            raise HTTPException(404, who.t("error.not_found"))
        tokens = await list_tokens(conn=conn, advisor_id=advisor_id)
    return render(
        request,
        "admin_advisor.html",
        who,
        status_code=status_code,
        advisor=advisor,
        working_hours=format_week(advisor.settings.working_hours, who.language),
        hours_example=format_week(HOURS_EXAMPLE, who.language),
        languages=LANGUAGES,
        advisor_language=language_code(advisor.settings.language),
        voices=voice_choices(advisor.settings.tts_voice),
        default_voice=runtime_of(request).settings.openai_tts_voice,
        tokens=tokens,
        problem=problem,
        secret=secret,
        secret_kind=secret_kind,
    )


@router.get("/advisors/{advisor_id}", name="console_advisor")
async def advisor_page(request: Request, who: SignedIn, advisor_id: str) -> Response:
    """One advisor: settings, activity, tokens and sign-in links."""
    who.require_admin()
    return await _advisor_page(request, who, _advisor_id(who, advisor_id))


@router.post("/advisors/{advisor_id}", name="console_save_advisor")
async def save_advisor(request: Request, who: Acting, advisor_id: str) -> Response:
    """Save name, numbers, AI instructions, away message, language, voice and working hours."""
    who.require_admin()
    target = _advisor_id(who, advisor_id)
    form = who.form
    name = form.get("name", "").strip()[:100]
    if not name:
        return await _advisor_page(
            request, who, target, problem=missing_name(who.language)["name"], status_code=422
        )
    try:
        time_zone = form.get("time_zone", "").strip()[:60] or DEFAULT_TIME_ZONE
        zone(time_zone)
        working_hours = parse_week(form.get("working_hours", "")[:2000])
    except InvalidHoursError as error:
        problem = who.t(f"hours.{error.reason}").format(value=error.value)
        return await _advisor_page(request, who, target, problem=problem, status_code=422)
    settings: dict[str, Any] = {
        "system_prompt": form.get("system_prompt", "").strip()[:8000] or None,
        "away_message": form.get("away_message", "").strip()[:1600] or None,
        "language": language_code(form.get("language")),
        "tts_voice": form.get("tts_voice", "").strip()[:40] or None,
        "time_zone": time_zone,
        "working_hours": working_hours,
    }
    try:
        async with runtime_of(request).pool.connection() as conn, conn.transaction():
            updated = await update_advisor(
                conn=conn,
                advisor_id=target,
                name=name,
                phone_number=form.get("phone_number", ""),
                twilio_phone_number=form.get("twilio_phone_number", ""),
                settings=settings,
            )
    except psycopg.Error as error:
        if isinstance(error, psycopg.OperationalError):
            raise
        return await _advisor_page(
            request, who, target, problem=_database_problem(error, who), status_code=422
        )
    if updated is None:
        raise HTTPException(404, who.t("error.not_found"))
    return await _advisor_page(request, who, target, problem=None)


@router.post("/advisors/{advisor_id}/active", name="console_advisor_active")
async def advisor_active(request: Request, who: Acting, advisor_id: str) -> Response:
    """Activate, or deactivate (which also revokes the advisor's tokens and ends their sessions)."""
    who.require_admin()
    target = _advisor_id(who, advisor_id)
    active = who.form.get("active") == "true"
    async with runtime_of(request).pool.connection() as conn, conn.transaction():
        await set_active(conn=conn, advisor_id=target, active=active)
        if not active:
            await revoke_tokens(conn=conn, advisor_id=target)
    return await _advisor_page(request, who, target)


async def _issue_secret(request: Request, who: Actor, advisor_id: str, kind: str) -> Response:
    """Issue an API token or a sign-in link for an active advisor, shown once on the page that answers."""
    who.require_admin()
    target = _advisor_id(who, advisor_id)
    async with runtime_of(request).pool.connection() as conn, conn.transaction():
        advisor = await get_advisor(conn=conn, advisor_id=str(target))
        if advisor is None:
            raise HTTPException(404, who.t("error.not_found"))
        if not advisor.is_active:
            return await _advisor_page(request, who, target, problem=who.t("admin.inactive"), status_code=409)
        if kind == "token":
            label = who.form.get("label", "").strip()[:60] or None
            secret = await issue_token(conn=conn, advisor_id=target, label=label)
        else:
            secret = str(request.url_for("console_link", link=await issue_link(conn=conn, advisor_id=target)))
    return await _advisor_page(request, who, target, secret=secret, secret_kind=kind)


@router.post("/advisors/{advisor_id}/tokens", name="console_issue_token")
async def issue_token_page(request: Request, who: Acting, advisor_id: str) -> Response:
    """Issue an API token, shown once on the page that answers."""
    return await _issue_secret(request, who, advisor_id, "token")


@router.post("/advisors/{advisor_id}/link", name="console_issue_link")
async def issue_link_page(request: Request, who: Acting, advisor_id: str) -> Response:
    """Make a single-use sign-in link (15 minutes) to hand to the advisor."""
    return await _issue_secret(request, who, advisor_id, "link")


@router.post("/tokens/{token_id}/revoke", name="console_revoke_token")
async def revoke_token_page(request: Request, who: Acting, token_id: int) -> Response:
    """Revoke one token: it, and every console session opened with it, stop at once."""
    who.require_admin()
    async with runtime_of(request).pool.connection() as conn, conn.transaction():
        cursor = await conn.execute("SELECT advisor_id FROM advisor_tokens WHERE id = %s", (token_id,))
        row = await cursor.fetchone()
        if row is None:
            raise HTTPException(404, who.t("error.not_found"))
        await revoke_tokens(conn=conn, token_id=token_id)
    return await _advisor_page(request, who, row["advisor_id"])


async def _team_stats(
    conn: Conn, days: int, only: UUID | None = None
) -> tuple[list[date], list[dict[str, Any]]]:
    """Every advisor's days, or only the advisor `only` (an advisor's own dashboard)."""
    until = datetime.now(UTC).date()
    since = until - timedelta(days=days - 1)
    team = []
    for row in await list_advisor_rows(conn=conn):
        if only is not None and row["id"] != only:
            continue
        per_day = await stats.advisor_stats(conn=conn, advisor_id=row["id"], since=since, until=until)
        team.append({"advisor": row, "days": per_day})
    return [since + timedelta(days=i) for i in range(days)], team


def _median_minutes(values: list[float]) -> float | None:
    return round(statistics.median(values) / 60, 1) if values else None


@router.get("/dashboard", name="console_dashboard")
async def dashboard(
    request: Request, who: SignedIn, days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 14
) -> Response:
    """Per advisor and day: conversations, inbound, AI and human replies, handovers, first human response.

    The admin sees every advisor; an advisor the same figures for themselves alone.
    """
    async with runtime_of(request).pool.connection() as conn:
        calendar, team = await _team_stats(conn, days, only=who.advisor_id)
        results = await _team_outcomes(conn, team, calendar[0], calendar[-1])
    charts = {
        metric: Markup(  # noqa: S704 - built by stacked_bars, which escapes every text it places
            stacked_bars(
                who.t(f"dashboard.{metric}"),
                calendar,
                [(m["advisor"]["name"], [float(d[metric]) for d in m["days"]]) for m in team],
                language=who.language,
            )
        )
        for metric in METRICS
    }
    charts["cost_usd"] = Markup(  # noqa: S704 - built by stacked_bars, which escapes every text it places
        stacked_bars(
            who.t("dashboard.cost_usd"),
            calendar,
            [(m["advisor"]["name"], [float(stats.day_cost(d)) for d in m["days"]]) for m in team],
            language=who.language,
        )
    )
    totals = []
    for index, member in enumerate(team):
        firsts = [d["median_first_human_response_seconds"] for d in member["days"]]
        totals.append(
            {
                "advisor": member["advisor"],
                "colour": colour(index),
                **{metric: sum(int(d[metric]) for d in member["days"]) for metric in METRICS},
                # The median of the daily medians: a summary, the CSV has each day's.
                "first_human_minutes": _median_minutes([float(x) for x in firsts if x is not None]),
                "drafts": _summed(member["days"], "drafts", DRAFT_OUTCOMES),
                "flags": _summed(member["days"], "flags_by_category", FLAG_CATEGORIES),
                "costs": _costs(member["days"]),
            }
        )
    grand = {metric: sum(t[metric] for t in totals) for metric in METRICS}
    for row, result in zip(totals, results, strict=True):
        row["outcomes"] = result
    return render(
        request,
        "dashboard.html",
        who,
        days=days,
        charts=charts,
        totals=totals,
        grand=grand,
        metrics=METRICS,
        draft_outcomes=DRAFT_OUTCOMES,
        flag_categories=FLAG_CATEGORIES,
    )


async def _team_outcomes(
    conn: Conn, team: list[dict[str, Any]], since: date, until: date
) -> list[OutcomeReport]:
    """Each advisor's outcome report of the period (bot.web.outcomes), in the team's order.

    `team` is `_team_stats`'s: the advisors as listed and their days, whose costs are reused.
    """
    return [
        await outcome_report(
            conn=conn,
            advisor=Advisor.model_validate(member["advisor"]),
            since=since,
            until=until,
            per_day=member["days"],
        )
        for member in team
    ]


@router.get("/outcomes.csv", name="console_outcomes_csv")
async def outcomes_csv(
    request: Request, who: SignedIn, days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 30
) -> Response:
    """The dashboard's outcomes, one row per advisor (docs/outcomes.md defines each column)."""
    async with runtime_of(request).pool.connection() as conn:
        calendar, team = await _team_stats(conn, days, only=who.advisor_id)
        reports = await _team_outcomes(conn, team, calendar[0], calendar[-1])
    since, until = calendar[0], calendar[-1]
    advisors = [member["advisor"] for member in team]
    scalar = [
        "conversations", "ai_answered", "coverage", "booked", "autonomous", "assisted",
        "autonomous_share", "assisted_share", "after_hours", "after_hours_answered",
        "median_first_response_ai_seconds", "median_first_response_human_seconds",
        "came_back_within_7_days", "cost_usd", "cost_per_booked_lead_usd",
    ]  # fmt: skip
    header = ["advisor_id", "advisor", "since", "until", *scalar, "funnel_interested",
              *(f"handovers_{kind}" for kind in HANDOVER_CATEGORIES)]  # fmt: skip
    rows: list[list[Any]] = [header]
    for advisor, report in zip(advisors, reports, strict=True):
        data = report.as_dict()
        handovers = [report.handovers_by_category.get(kind, 0) for kind in HANDOVER_CATEGORIES]
        rows.append(
            [advisor["id"], advisor["name"], since.isoformat(), until.isoformat(), *(data[k] for k in scalar),
             report.funnel["interested"], *handovers]
        )  # fmt: skip
    return _csv(rows, f"advisor-outcomes-{days}d.csv")


def _costs(days: list[dict[str, Any]]) -> dict[str, Any]:
    """The period's costs of one advisor, and the share of prompt tokens the model's cache served."""
    summed = {column: sum((Decimal(day[column]) for day in days), Decimal(0)) for column in COST_COLUMNS}
    prompt = summed["prompt_tokens"]
    return {
        **summed,
        "total": stats.day_cost(summed),
        "cached_share": round(100 * summed["cached_tokens"] / prompt) if prompt else None,
    }


def _summed(days: list[dict[str, Any]], field: str, keys: tuple[str, ...]) -> dict[str, int]:
    """A per-day {key: n} column added up over the period, every key present."""
    return {key: sum(int(day[field].get(key, 0)) for day in days) for key in keys}


def _csv(rows: list[list[Any]], filename: str) -> Response:
    return Response(
        csv_text(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.get("/stats.csv", name="console_stats_csv")
async def stats_csv(
    request: Request, who: SignedIn, days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 30
) -> Response:
    """The dashboard's figures, one row per advisor and day."""
    async with runtime_of(request).pool.connection() as conn:
        _, team = await _team_stats(conn, days, only=who.advisor_id)
    kinds = [f"handovers_{kind}" for kind in HANDOVER_CATEGORIES]
    outcomes = [f"drafts_{outcome}" for outcome in DRAFT_OUTCOMES]
    flags = [f"flags_{kind}" for kind in FLAG_CATEGORIES]
    header = [
        "advisor_id",
        "advisor",
        "day",
        *METRICS,
        "median_first_human_response_seconds",
        *kinds,
        *outcomes,
        *flags,
        *COST_COLUMNS,
        "cost_usd",
    ]
    rows: list[list[Any]] = [header]
    for member in team:
        for day in member["days"]:
            rows.append(
                [
                    member["advisor"]["id"],
                    member["advisor"]["name"],
                    day["day"].isoformat(),
                    *(day[metric] for metric in METRICS),
                    day["median_first_human_response_seconds"],
                    *(day["handovers_by_category"].get(kind, 0) for kind in HANDOVER_CATEGORIES),
                    *(day["drafts"].get(outcome, 0) for outcome in DRAFT_OUTCOMES),
                    *(day["flags_by_category"].get(kind, 0) for kind in FLAG_CATEGORIES),
                    *(day[column] for column in COST_COLUMNS),
                    stats.day_cost(day),
                ]
            )
    return _csv(rows, f"advisor-stats-{days}d.csv")


@router.get("/conversations.csv", name="console_conversations_csv")
async def conversations_csv(
    request: Request,
    who: SignedIn,
    since: Annotated[date | None, Query(alias="from")] = None,
    until: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    """Conversations with activity in a date range (UTC days, inclusive), with their counts.

    An advisor gets their own; the admin everyone's.
    """
    last = until or datetime.now(UTC).date()
    first = since or last - timedelta(days=29)
    if first > last or (last - first).days >= MAX_DAYS:
        raise HTTPException(422, f"from must be before to, at most {MAX_DAYS} days apart")
    async with runtime_of(request).pool.connection() as conn:
        cursor = await conn.execute(
            """
            SELECT c.conversation_id, a.name AS advisor, c.phone_number, c.profile_name, c.created_at,
                c.last_inbound_at, c.ai_attention, c.opted_out,
                count(*) FILTER (WHERE m.direction = 'inbound') AS inbound,
                count(*) FILTER (WHERE m.author = 'ai') AS ai_replies,
                count(*) FILTER (WHERE m.author = 'advisor') AS human_replies
            FROM messages m
            JOIN chat_history c ON c.conversation_id = m.conversation_id AND c.advisor_id = m.advisor_id
            JOIN advisors a ON a.id = c.advisor_id
            WHERE m.created_at >= %s::date AND m.created_at < %s::date + 1
              AND (%s::uuid IS NULL OR m.advisor_id = %s::uuid)
            GROUP BY c.conversation_id, a.name
            ORDER BY a.name, c.created_at
            """,
            (first, last, who.advisor_id, who.advisor_id),
        )
        found = await cursor.fetchall()
    columns = [
        "conversation_id",
        "advisor",
        "phone_number",
        "profile_name",
        "created_at",
        "last_inbound_at",
        "ai_attention",
        "opted_out",
        "inbound",
        "ai_replies",
        "human_replies",
    ]
    rows: list[list[Any]] = [columns, *([row[column] for column in columns] for row in found)]
    return _csv(rows, f"conversations-{first.isoformat()}-{last.isoformat()}.csv")
