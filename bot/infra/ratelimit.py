"""Owns request rate limits: a token bucket per caller, so one flood cannot starve everyone else."""

from __future__ import annotations

import time
from collections.abc import Callable

from cachetools import TTLCache


class RateLimiter:
    """Allows `rate` requests a second per key, with bursts up to `burst`; `rate` 0 allows all.

    Buckets of callers not seen for a minute are forgotten (bounded memory under a flood of
    distinct keys).
    """

    def __init__(
        self, rate: float, *, burst: float | None = None, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = burst if burst is not None else max(1.0, rate * 2)
        self._timer = timer
        self._buckets: TTLCache[str, tuple[float, float]] = TTLCache(100_000, 60, timer=timer)

    def peek(self, key: str) -> bool:
        """Whether `key` has a token left, without taking it (for limits charged only on failure)."""
        if self._rate <= 0:
            return True
        now = self._timer()
        tokens, last = self._buckets.get(key, (self._burst, now))
        return min(self._burst, tokens + (now - last) * self._rate) >= 1

    def allow(self, key: str) -> bool:
        """Take one token for `key`; False when the caller is over its limit."""
        if self._rate <= 0:
            return True
        now = self._timer()
        tokens, last = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        return True
