"""Owns per-advisor API tokens: issued once, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

TOKEN_PREFIX = "abt_"


def token_hash(token: str) -> str:
    """Return the stored form of a token; the token itself is never stored."""
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(*, conn: AsyncConnection[Any], advisor_id: UUID) -> str:
    """Create a new token for one advisor and return it (the only time it is visible)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO advisor_tokens (advisor_id, token_sha256) VALUES (%s, %s)",
        (advisor_id, token_hash(token)),
    )
    return token


async def advisor_for_token(*, conn: AsyncConnection[Any], token: str) -> UUID | None:
    """Return the advisor a valid, unrevoked token belongs to."""
    cursor = await conn.execute(
        "SELECT t.advisor_id FROM advisor_tokens t JOIN advisors a ON a.id = t.advisor_id "
        "WHERE t.token_sha256 = %s AND t.revoked_at IS NULL",
        (token_hash(token),),
    )
    row = await cursor.fetchone()
    return row["advisor_id"] if row else None
