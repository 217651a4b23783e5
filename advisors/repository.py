"""Owns the SQL of the `advisors` table."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from advisors.models import Advisor
from advisors.numbers import InvalidNumberError, normalize_whatsapp_address

_COLUMNS = ", ".join(Advisor.model_fields)


async def get_advisor_by_number(*, conn: AsyncConnection[Any], number: str) -> Advisor | None:
    """Return the advisor that owns Twilio number `number` (E.164), active or not."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM advisors WHERE twilio_phone_number = %s",  # noqa: S608
        (number,),
    )
    row = await cursor.fetchone()
    return Advisor.model_validate(row) if row else None


async def get_advisor(*, conn: AsyncConnection[Any], advisor_id: str) -> Advisor | None:
    """Return one advisor by id."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM advisors WHERE id = %s",  # noqa: S608
        (advisor_id,),
    )
    row = await cursor.fetchone()
    return Advisor.model_validate(row) if row else None


async def count_advisors(*, conn: AsyncConnection[Any]) -> int:
    """Return how many advisors are registered."""
    cursor = await conn.execute("SELECT count(*) AS n FROM advisors")
    row = await cursor.fetchone()
    return int(row["n"]) if row else 0


async def list_advisor_rows(*, conn: AsyncConnection[Any]) -> list[dict[str, Any]]:
    """Return every advisor as stored (settings untouched), by name, for administration."""
    cursor = await conn.execute(
        "SELECT id, name, phone_number, twilio_phone_number, coalesce(is_active, false) AS is_active, "
        "created_at, settings FROM advisors ORDER BY name, id"
    )
    return list(await cursor.fetchall())


async def find_advisor(*, conn: AsyncConnection[Any], ref: str) -> Advisor | None:
    """Return the advisor an admin means by `ref`: an id, or a Twilio number in any usual form."""
    try:
        return await get_advisor(conn=conn, advisor_id=str(UUID(ref)))
    except ValueError:
        pass
    try:
        number = normalize_whatsapp_address(ref)
    except InvalidNumberError:
        return None
    return await get_advisor_by_number(conn=conn, number=number)


async def add_advisor(
    *, conn: AsyncConnection[Any], name: str, phone_number: str, twilio_phone_number: str
) -> Advisor:
    """Register an advisor (active); the table's trigger normalises and checks both numbers."""
    cursor = await conn.execute(
        "INSERT INTO advisors (name, phone_number, twilio_phone_number, is_active) "
        f"VALUES (%s, %s, %s, true) RETURNING {_COLUMNS}",  # noqa: S608
        (name, phone_number, twilio_phone_number),
    )
    row = await cursor.fetchone()
    assert row is not None
    return Advisor.model_validate(row)


async def set_active(*, conn: AsyncConnection[Any], advisor_id: UUID, active: bool) -> bool:
    """Activate or deactivate one advisor; return whether anything changed.

    The table's trigger tells every process, which drops the advisor from its caches.
    """
    cursor = await conn.execute(
        "UPDATE advisors SET is_active = %s WHERE id = %s AND is_active IS DISTINCT FROM %s",
        (active, advisor_id, active),
    )
    return cursor.rowcount > 0


async def update_advisor(
    *,
    conn: AsyncConnection[Any],
    advisor_id: UUID,
    name: str,
    phone_number: str,
    twilio_phone_number: str,
    settings: dict[str, Any],
) -> Advisor | None:
    """Change an advisor's name, numbers and settings keys (others kept); the trigger checks numbers."""
    cursor = await conn.execute(
        "UPDATE advisors SET name = %s, phone_number = %s, twilio_phone_number = %s, "
        f"settings = settings || %s WHERE id = %s RETURNING {_COLUMNS}",  # noqa: S608
        (name, phone_number, twilio_phone_number, Jsonb(settings), advisor_id),
    )
    row = await cursor.fetchone()
    return Advisor.model_validate(row) if row else None
