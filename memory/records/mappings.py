"""Owns reading seed 000's conversation mappings back, as the old bot's API answered them.

A mapping names the old bot's conversation id. It belongs to the advisor whose conversation is
that id, or was it before the move (`chat_history.legacy_conversation_ids`, kept by adoption);
a mapping no conversation holds is the admin's alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from memory.records.models import Conn

# The old ids of the advisor's conversations; NULL advisor (the admin): every mapping.
_VISIBLE = """
    (%(advisor)s::uuid IS NULL OR m.conversation_id IN (
        SELECT unnest(legacy_conversation_ids) FROM chat_history WHERE advisor_id = %(advisor)s
        UNION ALL SELECT conversation_id::text FROM chat_history WHERE advisor_id = %(advisor)s))
"""
_FIELDS = (
    "m.conversation_id, m.hubspot_id, m.prospect AS prospect_data, "
    "m.source_created_at AS created_at, m.source_updated_at AS updated_at"
)


class Mapping(BaseModel):
    """One record of seed 000's file, in its own field names."""

    conversation_id: str
    hubspot_id: str
    prospect_data: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None


async def get_mapping(*, conn: Conn, advisor_id: UUID | None, conversation_id: str) -> Mapping | None:
    """The mapping of one old conversation id, if the caller may see it."""
    cursor = await conn.execute(
        f"SELECT {_FIELDS} FROM conversation_mappings m "  # noqa: S608 - ours
        f"WHERE m.conversation_id = %(id)s AND {_VISIBLE}",
        {"id": conversation_id, "advisor": advisor_id},
    )
    row = await cursor.fetchone()
    return Mapping.model_validate(row) if row else None


async def list_mappings(
    *, conn: Conn, advisor_id: UUID | None, limit: int, offset: int
) -> tuple[int, list[Mapping]]:
    """The mappings the caller may see, by conversation id: how many in all, and one page."""
    params = {"advisor": advisor_id, "limit": limit, "offset": offset}
    cursor = await conn.execute(
        f"SELECT count(*) AS n FROM conversation_mappings m WHERE {_VISIBLE}",  # noqa: S608 - ours
        params,
    )
    row = await cursor.fetchone()
    cursor = await conn.execute(
        f"SELECT {_FIELDS} FROM conversation_mappings m WHERE {_VISIBLE} "  # noqa: S608 - ours
        "ORDER BY m.conversation_id LIMIT %(limit)s OFFSET %(offset)s",
        params,
    )
    return int(row["n"] if row else 0), [Mapping.model_validate(r) for r in await cursor.fetchall()]
