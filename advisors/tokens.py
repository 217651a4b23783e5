"""Owns per-advisor API tokens: issued once, stored only as SHA-256 hashes, refused once inactive.

A token works only while it is unrevoked and its advisor is active. Look-ups are cached for a
short while (`TokenCache`); any change to an advisor or a token empties the cache of every
process (`advisors.invalidation`), so a revocation or a deactivation is felt within seconds.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any
from uuid import UUID

from cachetools import TTLCache
from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict

TOKEN_PREFIX = "abt_"
TOKEN_CACHE_SECONDS = 30.0


def token_hash(token: str) -> str:
    """Return the stored form of a token; the token itself is never stored."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenInfo(BaseModel):
    """What an admin may see of a token: never the secret, nor its hash."""

    model_config = ConfigDict(frozen=True)

    id: int
    advisor_id: UUID
    advisor_name: str
    label: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


async def issue_token(*, conn: AsyncConnection[Any], advisor_id: UUID, label: str | None = None) -> str:
    """Create a new token for one advisor and return it (the only time it is visible)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO advisor_tokens (advisor_id, token_sha256, label) VALUES (%s, %s, %s)",
        (advisor_id, token_hash(token), label),
    )
    return token


async def live_token(*, conn: AsyncConnection[Any], token: str) -> tuple[int, UUID] | None:
    """The (token id, advisor) of an unrevoked token of an active advisor, noting that it was used."""
    cursor = await conn.execute(
        "UPDATE advisor_tokens t SET last_used_at = now() FROM advisors a "
        "WHERE a.id = t.advisor_id AND t.token_sha256 = %s AND t.revoked_at IS NULL "
        "AND a.is_active IS TRUE RETURNING t.id, t.advisor_id",
        (token_hash(token),),
    )
    row = await cursor.fetchone()
    return (int(row["id"]), row["advisor_id"]) if row else None


async def advisor_for_token(*, conn: AsyncConnection[Any], token: str) -> UUID | None:
    """Return the active advisor a valid, unrevoked token belongs to, and note that it was used."""
    found = await live_token(conn=conn, token=token)
    return found[1] if found else None


async def list_tokens(*, conn: AsyncConnection[Any], advisor_id: UUID | None = None) -> list[TokenInfo]:
    """Every token (of one advisor, or of all), oldest first."""
    cursor = await conn.execute(
        "SELECT t.id, t.advisor_id, a.name AS advisor_name, t.label, t.created_at, t.last_used_at, "
        "t.revoked_at FROM advisor_tokens t JOIN advisors a ON a.id = t.advisor_id "
        "WHERE %s::uuid IS NULL OR t.advisor_id = %s ORDER BY t.created_at, t.id",
        (advisor_id, advisor_id),
    )
    return [TokenInfo.model_validate(row) for row in await cursor.fetchall()]


async def revoke_tokens(
    *, conn: AsyncConnection[Any], token_id: int | None = None, advisor_id: UUID | None = None
) -> int:
    """Revoke one token by id, or every live token of one advisor; return how many were revoked."""
    if (token_id is None) == (advisor_id is None):
        raise ValueError("revoke one token_id or all tokens of one advisor_id")
    column, value = ("id", token_id) if token_id is not None else ("advisor_id", advisor_id)
    cursor = await conn.execute(
        f"UPDATE advisor_tokens SET revoked_at = now() WHERE {column} = %s AND revoked_at IS NULL",  # noqa: S608
        (value,),
    )
    return cursor.rowcount


class TokenCache:
    """Valid tokens (by hash) → advisor id, for a few seconds, so an API call needs no look-up.

    Only valid tokens are cached; a wrong guess always reaches the database, and is throttled
    per client address by the caller. Emptied whole on any advisor or token change.
    """

    def __init__(self, ttl: float = TOKEN_CACHE_SECONDS, maxsize: int = 10_000) -> None:
        self._cache: TTLCache[str, UUID] = TTLCache(maxsize, ttl)

    def get(self, token: str) -> UUID | None:
        """The advisor of a recently validated token, or None."""
        return self._cache.get(token_hash(token))

    def remember(self, token: str, advisor_id: UUID) -> None:
        """Note a token that was just found valid."""
        self._cache[token_hash(token)] = advisor_id

    def invalidate(self, number: str | None = None) -> None:
        """Forget every token: a change to any advisor or token may affect any of them."""
        del number
        self._cache.clear()
