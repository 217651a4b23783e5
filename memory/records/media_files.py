"""Owns the media this server publishes: the names in its links, and the database copy.

With MEDIA_BACKEND=database, voice replies are rows here, so every web process can serve them.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from memory.records.models import Conn

MEDIA_PATH = "/media"  # our links: <PUBLIC_BASE_URL>/media/<name>?expires=…&signature=…
_PUBLISHED = re.compile(rf"{re.escape(MEDIA_PATH)}/([a-z0-9_.-]{{8,100}})")


def published_name(url: str) -> str | None:
    """The name in one of our own media links, or None for any other URL (Twilio's, say)."""
    match = _PUBLISHED.fullmatch(urlsplit(url).path)
    return match.group(1) if match else None


async def store_media(*, conn: Conn, name: str, content_type: str, data: bytes) -> None:
    """Keep one published file under its unguessable name."""
    await conn.execute(
        "INSERT INTO media_files (name, content_type, data) VALUES (%s, %s, %s)", (name, content_type, data)
    )


async def read_media(*, conn: Conn, name: str) -> tuple[str, bytes] | None:
    """A published file's content type and bytes, or None."""
    cursor = await conn.execute("SELECT content_type, data FROM media_files WHERE name = %s", (name,))
    row = await cursor.fetchone()
    return (row["content_type"], bytes(row["data"])) if row else None


async def delete_media(*, conn: Conn, names: list[str]) -> int:
    """Delete published files by name; return how many there were."""
    cursor = await conn.execute("DELETE FROM media_files WHERE name = ANY(%s)", (names,))
    return cursor.rowcount


async def delete_old_media(*, conn: Conn, older_than_seconds: float) -> int:
    """Delete files published longer ago than that (their links expired long before)."""
    cursor = await conn.execute(
        "DELETE FROM media_files WHERE created_at < now() - make_interval(secs => %s)", (older_than_seconds,)
    )
    return cursor.rowcount
