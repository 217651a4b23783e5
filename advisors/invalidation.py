"""Owns keeping the advisor cache fresh: a change to `advisors` reaches every process in seconds.

A trigger NOTIFYs `advisor_bot_advisors` with the numbers a change touched; each process LISTENs
and drops those entries. Behind a transaction pooler, where LISTEN does not work, the process polls
a fingerprint of the table instead. Each function here is one session or one look; the caller runs
it again and again (and again after a lost connection) until the process stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import psycopg

logger = logging.getLogger(__name__)

CHANNEL = "advisor_bot_advisors"
_FINGERPRINT = (
    "SELECT md5(coalesce(string_agg(id::text || twilio_phone_number || coalesce(is_active, true)::text "
    "|| phone_number || name || settings::text, ',' ORDER BY id), '') || "
    "(SELECT count(*)::text || coalesce(max(revoked_at)::text, '') FROM advisor_tokens)) "
    "AS fingerprint FROM advisors"
)


class AdvisorCache(Protocol):
    """Anything a process caches about advisors: the number resolver, the API token cache."""

    def invalidate(self, number: str | None = None) -> None:
        """Forget what is cached about one Twilio number, or everything when None."""


async def follow_notifications(
    conninfo: str,
    caches: Sequence[AdvisorCache],
    *,
    connection_kwargs: dict[str, Any],
    ready: asyncio.Event | None = None,
) -> None:
    """LISTEN and drop the cached advisors each NOTIFY names, until the connection ends.

    On every (re)connection the whole cache is dropped first: notifications sent while this
    process was not listening are lost, so nothing cached before then can be trusted.
    """
    async with await psycopg.AsyncConnection.connect(
        conninfo, **{**connection_kwargs, "autocommit": True}
    ) as conn:
        await conn.execute(f"LISTEN {CHANNEL}")
        for cache in caches:
            cache.invalidate()
        if ready is not None:
            ready.set()
        async for notify in conn.notifies():
            for cache in caches:
                cache.invalidate(notify.payload or None)
            logger.info("advisor changed; cache entry dropped", extra={"advisor_number": notify.payload})


class FingerprintWatch:
    """Drops the caches when the advisors' and tokens' fingerprint changes between two looks."""

    def __init__(
        self,
        conninfo: str,
        caches: Sequence[AdvisorCache],
        *,
        connection_kwargs: dict[str, Any],
        ready: asyncio.Event | None = None,
    ) -> None:
        self._conninfo = conninfo
        self._caches = caches
        self._kwargs = {**connection_kwargs, "autocommit": True}
        self._ready = ready
        self._last: str | None = None

    async def look(self) -> None:
        """Read the fingerprint once; a change since the last look empties the cache."""
        async with await psycopg.AsyncConnection.connect(self._conninfo, **self._kwargs) as conn:
            row = await (await conn.execute(_FINGERPRINT)).fetchone()
        current = row["fingerprint"] if isinstance(row, dict) else (row[0] if row else None)
        if self._last is not None and current != self._last:
            for cache in self._caches:
                cache.invalidate()
            logger.info("advisors changed; cache dropped")
        self._last = current
        if self._ready is not None:
            self._ready.set()


async def announce_change(conn: psycopg.AsyncConnection[Any], number: str | None = None) -> None:
    """Tell every process to drop `number` from its cache (every number when None)."""
    await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, number or ""))
