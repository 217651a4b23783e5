"""Owns the statistics query: per advisor and day, how much happened and how fast it was answered."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from memory.records.models import Conn

# What a day cost (USD, sql/0030), the columns that add up to it.
MONEY_COLUMNS = ("whatsapp_cost_usd", "twilio_cost_usd", "model_cost_usd")


def day_cost(day: dict[str, Any]) -> Decimal:
    """What one day of `advisor_stats` cost in all: WhatsApp, Twilio and the model (docs/costs.md)."""
    return sum((Decimal(day[column]) for column in MONEY_COLUMNS), Decimal(0))


def _per_kind_per_day(name: str, table: str, kind: str, moment: str, where: str = "") -> str:
    """A CTE `name`: per UTC day, one advisor's rows of `table` in all (`n`) and by `kind` (`kinds`)."""
    return f"""{name} AS (
            SELECT day, sum(n)::bigint AS n, jsonb_object_agg(kind, n) AS kinds FROM (
                SELECT ({moment} AT TIME ZONE 'UTC')::date AS day, {kind} AS kind, count(*) AS n
                FROM {table}
                WHERE advisor_id = %(advisor)s {where}
                  AND {moment} >= %(since)s::date AND {moment} < %(until)s::date + 1
                GROUP BY 1, 2
            ) per_kind GROUP BY day
        )"""  # noqa: S608 - names and columns are ours


async def advisor_stats(*, conn: Conn, advisor_id: UUID, since: date, until: date) -> list[dict[str, Any]]:
    """Return per-day activity of one advisor between two dates (inclusive, UTC days).

    Hand-overs are counted in all and per kind (`handovers_by_category`; rows from before kinds
    were recorded count as `unknown`). Drafts (draft mode) are counted by how they ended, on the
    day they did (`drafts`: approved as written, edited, rejected, timed_out, superseded); the
    advisors' flags on AI messages per kind, on the day they were flagged (`flags_by_category`).

    First-response time: for each conversation and day, from the customer's first message of the
    day to the first reply (AI or human) after it. First human response: to the first message
    written by the advisor (the away message and the AI do not count).

    Costs (USD, as stored when spent: sql/0030): WhatsApp's charge and Twilio's fee of the
    messages Twilio accepted that day, the advisor's own notices included; the model calls'
    cost and tokens (cached prompt tokens apart) of that day.
    """
    cursor = await conn.execute(
        f"""
        WITH days AS (
            SELECT d::date AS day FROM generate_series(%(since)s::date, %(until)s::date, interval '1 day') d
        ),
        msgs AS (
            SELECT (created_at AT TIME ZONE 'UTC')::date AS day, conversation_id, direction, author,
                created_at
            FROM messages
            WHERE advisor_id = %(advisor)s
              AND created_at >= %(since)s::date AND created_at < %(until)s::date + 1
        ),
        firsts AS (
            SELECT day, conversation_id, min(created_at) AS first_inbound
            FROM msgs WHERE direction = 'inbound' GROUP BY day, conversation_id
        ),
        responses AS (
            SELECT f.day, extract(epoch FROM (
                SELECT min(m.created_at) FROM messages m
                WHERE m.advisor_id = %(advisor)s AND m.conversation_id = f.conversation_id
                  AND m.direction = 'outbound' AND m.created_at >= f.first_inbound
                  AND m.status NOT IN ('failed', 'pending')
            ) - f.first_inbound) AS seconds,
            extract(epoch FROM (
                SELECT min(m.created_at) FROM messages m
                WHERE m.advisor_id = %(advisor)s AND m.conversation_id = f.conversation_id
                  AND m.direction = 'outbound' AND m.author = 'advisor' AND m.created_at >= f.first_inbound
                  AND m.status NOT IN ('failed', 'pending')
            ) - f.first_inbound) AS human_seconds
            FROM firsts f
        ),
        spent AS (
            SELECT (created_at AT TIME ZONE 'UTC')::date AS day,
                   coalesce(whatsapp_cost_usd, 0) AS whatsapp, coalesce(twilio_cost_usd, 0) AS twilio
              FROM messages
             WHERE advisor_id = %(advisor)s AND direction = 'outbound' AND twilio_cost_usd IS NOT NULL
               AND created_at >= %(since)s::date AND created_at < %(until)s::date + 1
            UNION ALL
            SELECT (created_at AT TIME ZONE 'UTC')::date, coalesce(whatsapp_cost_usd, 0),
                   coalesce(twilio_cost_usd, 0)
              FROM advisor_channel
             WHERE advisor_id = %(advisor)s AND twilio_cost_usd IS NOT NULL
               AND created_at >= %(since)s::date AND created_at < %(until)s::date + 1
        ),
        model_days AS (
            SELECT (created_at AT TIME ZONE 'UTC')::date AS day, sum(cost_usd) AS cost,
                   sum(prompt_tokens) AS prompt, sum(cached_tokens) AS cached,
                   sum(completion_tokens) AS completion
              FROM model_usage
             WHERE advisor_id = %(advisor)s
               AND created_at >= %(since)s::date AND created_at < %(until)s::date + 1
             GROUP BY 1
        ),
        {_per_kind_per_day("handover_days", "handovers", "coalesce(category, 'unknown')", "created_at")},
        {_per_kind_per_day("draft_days", "drafts", "status", "decided_at", "AND status <> 'pending'")},
        {_per_kind_per_day("flag_days", "message_flags", "category", "created_at")}
        SELECT d.day,
            (SELECT count(DISTINCT conversation_id) FROM msgs WHERE msgs.day = d.day) AS conversations,
            (SELECT count(*) FROM msgs WHERE msgs.day = d.day AND direction = 'inbound') AS inbound,
            (SELECT count(*) FROM msgs WHERE msgs.day = d.day AND direction = 'outbound'
                AND author = 'ai') AS ai_replies,
            (SELECT count(*) FROM msgs WHERE msgs.day = d.day AND direction = 'outbound'
                AND author = 'advisor') AS human_replies,
            coalesce((SELECT n FROM handover_days h WHERE h.day = d.day), 0) AS handovers,
            coalesce((SELECT kinds FROM handover_days h WHERE h.day = d.day), '{{}}'::jsonb)
                AS handovers_by_category,
            coalesce((SELECT kinds FROM draft_days x WHERE x.day = d.day), '{{}}'::jsonb) AS drafts,
            coalesce((SELECT kinds FROM flag_days x WHERE x.day = d.day), '{{}}'::jsonb) AS flags_by_category,
            (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FROM responses r
                WHERE r.day = d.day AND seconds IS NOT NULL) AS median_first_response_seconds,
            (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY human_seconds) FROM responses r
                WHERE r.day = d.day AND human_seconds IS NOT NULL) AS median_first_human_response_seconds,
            coalesce((SELECT sum(whatsapp) FROM spent x WHERE x.day = d.day), 0) AS whatsapp_cost_usd,
            coalesce((SELECT sum(twilio) FROM spent x WHERE x.day = d.day), 0) AS twilio_cost_usd,
            coalesce((SELECT cost FROM model_days x WHERE x.day = d.day), 0) AS model_cost_usd,
            coalesce((SELECT prompt FROM model_days x WHERE x.day = d.day), 0) AS prompt_tokens,
            coalesce((SELECT cached FROM model_days x WHERE x.day = d.day), 0) AS cached_tokens,
            coalesce((SELECT completion FROM model_days x WHERE x.day = d.day), 0) AS completion_tokens
        FROM days d ORDER BY d.day
        """,  # noqa: S608 - the CTEs are built from our own names
        {"advisor": advisor_id, "since": since, "until": until},
    )
    return list(await cursor.fetchall())
