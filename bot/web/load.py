"""Owns how loaded the web process is, and the per-client cap that keeps one client from filling it.

`LoadState` counts what shedding and the defences did, so `/readyz` can say the process is
saturated (monitoring saw nothing during the slow-body attack the probe ran). `ClientCap` is the
outermost middleware: beyond MAX_CONNECTIONS_PER_CLIENT requests in flight from one address, the
next is refused at once, before its body is read.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

SATURATION_MEMORY_SECONDS = 10.0


@dataclass
class LoadState:
    """Counters of one process (one event loop: plain integers are exact)."""

    webhook_in_flight: int = 0
    shed_total: int = 0
    slow_bodies: int = 0
    clients_refused: int = 0
    last_shed_at: float | None = None
    last_refused_at: float | None = None
    per_client: Counter[str] = field(default_factory=Counter)

    def shed(self) -> None:
        """Note a webhook refused because WEBHOOK_MAX_IN_FLIGHT were in flight."""
        self.shed_total += 1
        self.last_shed_at = time.monotonic()

    def saturated(self, limit: int) -> bool:
        """At the in-flight limit now, or refusing requests within the last few seconds."""
        now = time.monotonic()
        recent = [moment for moment in (self.last_shed_at, self.last_refused_at) if moment is not None]
        return bool(limit and self.webhook_in_flight >= limit) or any(
            now - moment < SATURATION_MEMORY_SECONDS for moment in recent
        )

    def report(self, limit: int) -> dict[str, Any]:
        """What `/readyz` shows about load."""
        return {
            "webhook_in_flight": self.webhook_in_flight,
            "webhook_max_in_flight": limit,
            "shed_total": self.shed_total,
            "slow_bodies_total": self.slow_bodies,
            "clients_refused_total": self.clients_refused,
            "busiest_client_requests": max(self.per_client.values(), default=0),
        }


class ClientCap:
    """ASGI middleware: at most `limit` HTTP requests in flight per client address (0: no cap)."""

    def __init__(
        self, app: ASGIApp, *, load: LoadState, limit: int, exempt: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.load = load
        self.limit = limit
        self.exempt = exempt  # long-lived streams, capped per session by their own route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the request against its client address for as long as it is handled."""
        if scope["type"] != "http" or not self.limit or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "unknown"
        counts = self.load.per_client
        if counts[client] >= self.limit:
            self.load.clients_refused += 1
            self.load.last_refused_at = time.monotonic()
            await _refuse(send)
            return
        counts[client] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            counts[client] -= 1
            if counts[client] <= 0:
                del counts[client]


async def _refuse(send: Send) -> None:
    body = b"too many requests in flight from this address, retry later\n"
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"1"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
