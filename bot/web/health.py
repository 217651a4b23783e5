"""Owns the health endpoints: `/healthz` (process alive) and `/readyz` (ready to take webhooks).

`/readyz` is 503 when the database is unreachable, and also when the process is saturated
(webhooks shed or clients refused within the last seconds), so monitoring sees an attack or an
overload that `/healthz` cannot.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.web.runtime import WebRuntime

logger = logging.getLogger(__name__)


class HasStatus(Protocol):
    """A background part of the process that can say whether it still runs (the in-process worker)."""

    @property
    def status(self) -> str:
        """`running` or `stopped`."""


async def healthz(request: Request) -> JSONResponse:
    """Process alive: answers without touching the database."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Database reachable within a second: load balancers stop routing here when it is not."""
    runtime: WebRuntime = request.state.runtime
    try:
        async with asyncio.timeout(1.0), runtime.pool.connection(timeout=1.0) as conn:
            await conn.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001 - any failure means "not ready", and is reported
        logger.warning("readiness check failed", extra={"error": type(error).__name__})
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    worker: HasStatus | None = request.state.worker
    limit = runtime.settings.webhook_max_in_flight
    saturated = runtime.load.saturated(limit)
    return JSONResponse(
        {
            "status": "saturated" if saturated else "ok",
            "database": "ok",
            "worker": "absent" if worker is None else worker.status,
            "load": runtime.load.report(limit),
        },
        status_code=503 if saturated else 200,
    )
