"""Owns request rate limits: a token bucket per caller, so one flood cannot starve everyone else."""

from __future__ import annotations

import hashlib
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


class FailureThrottle:
    """Throttles failed sign-ins per address *and* credential, under a much higher per-address ceiling.

    Keyed by address alone, one client retrying a revoked token every few seconds (a forgotten
    job) locked everyone behind that address out, the right ADMIN_TOKEN included. Now a
    credential that keeps failing is throttled on its own (`rate`, `burst`), while other
    credentials from that address still get their answer; a guesser who presents a fresh random
    token each time meets the per-address ceiling (`address_factor` times the rate and burst),
    and only failures count, so a valid credential is never refused for someone else's.
    """

    def __init__(self, rate: float, *, burst: float, address_factor: float = 20.0) -> None:
        self._per_credential = RateLimiter(rate, burst=burst)
        self._per_address = RateLimiter(rate * address_factor, burst=burst * address_factor)

    @staticmethod
    def _key(address: str, presented: str) -> str:
        return hashlib.sha256(f"{address}\x00{presented}".encode()).hexdigest()

    def allows(self, address: str, presented: str) -> bool:
        """Whether checking `presented` from `address` may cost a look-up now."""
        return self._per_address.peek(address) and self._per_credential.peek(self._key(address, presented))

    def failed(self, address: str, presented: str) -> None:
        """Count one failure of `presented` from `address`."""
        self._per_address.allow(address)
        self._per_credential.allow(self._key(address, presented))
