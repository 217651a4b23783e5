"""Owns number → advisor routing: a TTL cache in front of the `advisors` table."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cachetools import TTLCache

from advisors.models import Advisor

Lookup = Callable[[str], Awaitable[Advisor | None]]

_MAX_ENTRIES = 100_000


@dataclass
class ResolverStats:
    """Counters that benchmarks and logs read: how often the database was asked."""

    hits: int = 0
    misses: int = 0
    queries: int = 0


class AdvisorResolver:
    """Resolve a Twilio number to its advisor, asking the database once per number per TTL.

    Known numbers stay cached for `ttl` seconds (24 h by default); unknown numbers for the much
    shorter `negative_ttl`, so a flood of messages to a number nobody owns costs one query per
    `negative_ttl`, yet a newly registered advisor starts routing soon. Concurrent misses for one
    number share one query.
    """

    def __init__(
        self,
        lookup: Lookup,
        *,
        ttl: float,
        negative_ttl: float,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._known: TTLCache[str, Advisor] = TTLCache(_MAX_ENTRIES, ttl, timer=timer)
        self._unknown: TTLCache[str, bool] | None = (
            TTLCache(_MAX_ENTRIES, negative_ttl, timer=timer) if negative_ttl > 0 else None
        )
        self._in_flight: dict[str, asyncio.Future[Advisor | None]] = {}
        self.stats = ResolverStats()

    async def resolve(self, number: str) -> Advisor | None:
        """Return the advisor owning `number` (active or not), or None when nobody does."""
        advisor = self._known.get(number)
        if advisor is not None:
            self.stats.hits += 1
            return advisor
        if self._unknown is not None and number in self._unknown:
            self.stats.hits += 1
            return None
        self.stats.misses += 1
        pending = self._in_flight.get(number)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Advisor | None] = asyncio.get_running_loop().create_future()
        self._in_flight[number] = future
        try:
            self.stats.queries += 1
            advisor = await self._lookup(number)
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        else:
            future.set_result(advisor)
            if advisor is not None:
                self._known[number] = advisor
            elif self._unknown is not None:
                self._unknown[number] = True
            return advisor
        finally:
            del self._in_flight[number]

    def invalidate(self, number: str | None = None) -> None:
        """Forget one number, or every number when None."""
        if number is None:
            self._known.clear()
            if self._unknown is not None:
                self._unknown.clear()
            return
        self._known.pop(number, None)
        if self._unknown is not None:
            self._unknown.pop(number, None)
