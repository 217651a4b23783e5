"""Owns the SQL of the `advisors` table."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from advisors.models import Advisor

_COLUMNS = "id, name, phone_number, twilio_phone_number, is_active, settings"


async def get_advisor_by_number(*, conn: AsyncConnection[Any], number: str) -> Advisor | None:
    """Return the advisor that owns Twilio number `number` (E.164), active or not."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM advisors WHERE twilio_phone_number = %s",  # noqa: S608
        (number,),
    )
    row = await cursor.fetchone()
    return Advisor.from_row(row) if row else None


async def get_advisor(*, conn: AsyncConnection[Any], advisor_id: str) -> Advisor | None:
    """Return one advisor by id."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM advisors WHERE id = %s",  # noqa: S608
        (advisor_id,),
    )
    row = await cursor.fetchone()
    return Advisor.from_row(row) if row else None


async def count_advisors(*, conn: AsyncConnection[Any]) -> int:
    """Return how many advisors are registered."""
    cursor = await conn.execute("SELECT count(*) AS n FROM advisors")
    row = await cursor.fetchone()
    return int(row["n"]) if row else 0
