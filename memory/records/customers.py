"""Owns finding customers: the marketing questions (who, with what labels, silent since when).

A customer is one advisor's conversation with one phone, read with its profile. Historical
customers are the same rows with stage `inactive` (see `mark_historical`), never a copy.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from memory.records.models import Conn, Record
from memory.records.profiles import Stage


class CustomerFilter(BaseModel):
    """What to look for; every condition given must hold."""

    labels_any: list[str] = Field(default_factory=list, description="has at least one of these labels")
    labels_all: list[str] = Field(default_factory=list, description="has every one of these labels")
    stage: Stage | None = None
    marketing_consent: bool | None = None
    reachable: bool = Field(default=False, description="consent given, not opted out: re-engagement lists")
    inactive_days: int | None = Field(default=None, ge=0, description="silent for at least this many days")
    last_from: datetime | None = Field(default=None, description="last interaction at or after")
    last_to: datetime | None = Field(default=None, description="last interaction before")
    text: str | None = Field(default=None, description="in the name, phone, notes or labels")


class Customer(Record):
    """One row of the customer list."""

    id: UUID = Field(description="The conversation's id: one advisor's customer")
    advisor_id: UUID
    phone_number: str
    name: str | None
    labels: list[str]
    stage: Stage
    marketing_consent: bool
    opted_out: bool
    first_interaction_at: datetime | None
    last_interaction_at: datetime | None
    inactive_since: datetime | None


HISTORY_BATCH = 10_000  # customers marked per statement; the job repeats until fewer are left
_LAST = "coalesce(greatest(p.last_interaction_at, c.last_inbound_at), c.created_at)"
_SELECT = f"""
    SELECT c.conversation_id AS id, c.advisor_id, c.phone_number,
           coalesce(p.name, c.profile_name) AS name, coalesce(p.labels, '[]'::jsonb) AS labels,
           coalesce(p.stage, 'new') AS stage, coalesce(p.marketing_consent, false) AS marketing_consent,
           c.opted_out, least(p.first_interaction_at, c.created_at) AS first_interaction_at,
           {_LAST} AS last_interaction_at, p.inactive_since
      FROM chat_history c
      LEFT JOIN customer_profiles p ON p.conversation_id = c.conversation_id AND p.advisor_id = c.advisor_id
"""


def _where(advisor_id: UUID | None, found: CustomerFilter, after: UUID | None) -> tuple[str, list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    if advisor_id is not None:
        conditions.append("c.advisor_id = %s")
        params.append(advisor_id)
    if found.labels_all:
        conditions.append("coalesce(p.labels, '[]'::jsonb) @> %s::jsonb")
        params.append(_json_list(found.labels_all))
    if found.labels_any:
        has = "coalesce(p.labels, '[]'::jsonb) @> %s::jsonb"
        conditions.append("(" + " OR ".join(has for _ in found.labels_any) + ")")
        params += [_json_list([label]) for label in found.labels_any]
    if found.stage is not None:
        conditions.append("coalesce(p.stage, 'new') = %s")
        params.append(found.stage)
    if found.marketing_consent is not None:
        conditions.append("coalesce(p.marketing_consent, false) = %s")
        params.append(found.marketing_consent)
    if found.reachable:
        conditions.append("coalesce(p.marketing_consent, false) AND NOT c.opted_out")
    if found.inactive_days is not None:
        conditions.append(f"{_LAST} < now() - make_interval(days => %s)")
        params.append(found.inactive_days)
    if found.last_from is not None:
        conditions.append(f"{_LAST} >= %s")
        params.append(found.last_from)
    if found.last_to is not None:
        conditions.append(f"{_LAST} < %s")
        params.append(found.last_to)
    if found.text:
        pattern = "%" + found.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            "(coalesce(p.name, c.profile_name, '') ILIKE %s OR c.phone_number ILIKE %s "
            "OR coalesce(p.notes, '') ILIKE %s OR coalesce(p.labels, '[]'::jsonb)::text ILIKE %s)"
        )
        params += [pattern] * 4
    if after is not None:
        conditions.append("c.conversation_id > %s")
        params.append(after)
    return (" WHERE " + " AND ".join(conditions)) if conditions else "", params


def _json_list(values: list[str]) -> str:
    return json.dumps(values, ensure_ascii=False)


async def list_customers(
    *, conn: Conn, advisor_id: UUID | None, found: CustomerFilter, limit: int, after: UUID | None = None
) -> list[Customer]:
    """One page of matching customers, by id; `after` is the last id of the previous page."""
    where, params = _where(advisor_id, found, after)
    cursor = await conn.execute(
        _SELECT + where + " ORDER BY c.conversation_id LIMIT %s", [*params, limit], prepare=False
    )
    return [Customer.model_validate(row) for row in await cursor.fetchall()]


async def stream_customers(
    *, conn: Conn, advisor_id: UUID | None, found: CustomerFilter
) -> AsyncIterator[Customer]:
    """Every matching customer, fetched in chunks through a server-side cursor (CSV exports)."""
    where, params = _where(advisor_id, found, None)
    async with conn.cursor(name="customer_export") as cursor:
        await cursor.execute(_SELECT + where + " ORDER BY c.conversation_id", params)
        while rows := await cursor.fetchmany(1_000):
            for row in rows:
                yield Customer.model_validate(row)


def matching_ids(advisor_id: UUID, found: CustomerFilter) -> tuple[str, list[Any]]:
    """A query (and its parameters) for the ids of one advisor's matching customers, to insert from."""
    where, params = _where(advisor_id, found, None)
    return (
        "SELECT c.conversation_id, c.advisor_id FROM chat_history c LEFT JOIN customer_profiles p "
        "ON p.conversation_id = c.conversation_id AND p.advisor_id = c.advisor_id" + where,
        params,
    )


async def mark_historical(*, conn: Conn, after_days: int) -> int:
    """Mark customers silent for `after_days` as `inactive`, remembering their stage; return how many.

    Their next message gives the stage back (a trigger on `messages`, migration 0011).
    """
    cursor = await conn.execute(
        f"""
        WITH silent AS (
            SELECT c.conversation_id, c.advisor_id, coalesce(p.stage, 'new') AS stage
              FROM chat_history c
              LEFT JOIN customer_profiles p ON p.conversation_id = c.conversation_id
             WHERE coalesce(p.stage, 'new') <> 'inactive'
               AND {_LAST} < now() - make_interval(days => %s)
             LIMIT %s
        ), marked AS (
            INSERT INTO customer_profiles AS p
                (conversation_id, advisor_id, stage, stage_before_inactive, inactive_since)
            SELECT conversation_id, advisor_id, 'inactive', stage, now() FROM silent
            ON CONFLICT (conversation_id) DO UPDATE SET
                stage = 'inactive', stage_before_inactive = p.stage, inactive_since = now(),
                updated_at = now()
            RETURNING conversation_id
        )
        UPDATE chat_history SET profile_updated_at = now()
         WHERE conversation_id IN (SELECT conversation_id FROM marked)
        """,  # noqa: S608 - _LAST is ours
        (after_days, HISTORY_BATCH),
    )
    return cursor.rowcount
