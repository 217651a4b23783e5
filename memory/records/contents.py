"""Owns the Twilio Content created for choices, one row per shape (sql/0029)."""

from __future__ import annotations

from memory.records.models import Conn


async def known_content(*, conn: Conn, shape_hash: str) -> str | None:
    """The ContentSid created for this shape earlier, if any."""
    cursor = await conn.execute(
        "SELECT content_sid FROM whatsapp_contents WHERE shape_hash = %s", (shape_hash,)
    )
    row = await cursor.fetchone()
    return str(row["content_sid"]) if row else None


async def remember_content(*, conn: Conn, shape_hash: str, content_sid: str, kind: str) -> str:
    """Keep a created ContentSid; when two workers created the same shape at once, the first kept wins."""
    cursor = await conn.execute(
        "WITH kept AS (INSERT INTO whatsapp_contents (shape_hash, content_sid, kind) VALUES (%s, %s, %s) "
        "ON CONFLICT (shape_hash) DO NOTHING RETURNING content_sid) "
        "SELECT content_sid FROM kept "
        "UNION ALL SELECT content_sid FROM whatsapp_contents WHERE shape_hash = %s LIMIT 1",
        (shape_hash, content_sid, kind, shape_hash),
    )
    row = await cursor.fetchone()
    return str(row["content_sid"]) if row else content_sid
