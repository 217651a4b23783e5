"""Owns the web application: routes, and the lifespan that opens and closes the runtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.logging_setup import configure_logging
from bot.paths import STATUS_CALLBACK_PATH, WEBHOOK_PATH
from bot.runtime import open_runtime
from bot.settings import Settings
from bot.status import twilio_status
from bot.webhook import twilio_webhook

logger = logging.getLogger(__name__)


async def healthz(request: Request) -> JSONResponse:
    """Process alive: answers without touching the database."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Database reachable within a second: load balancers stop routing here when it is not."""
    runtime = request.state.runtime
    try:
        async with asyncio.timeout(1.0), runtime.pool.connection(timeout=1.0) as conn:
            await conn.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001 - any failure means "not ready", and is reported
        logger.warning("readiness check failed", extra={"error": type(error).__name__})
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    worker = runtime.worker_task
    worker_state = "absent" if worker is None else ("stopped" if worker.done() else "running")
    return JSONResponse({"status": "ok", "database": "ok", "worker": worker_state})


def create_app(settings: Settings | None = None, *, run_worker: bool = True) -> Starlette:
    """Build the ASGI app; with `run_worker`, the queue worker runs in the same process."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        configure_logging(settings)
        async with open_runtime(settings, worker=run_worker) as runtime:
            app.state.runtime = runtime
            yield {"runtime": runtime}

    return Starlette(
        routes=[
            Route(WEBHOOK_PATH, twilio_webhook, methods=["POST"]),
            Route(STATUS_CALLBACK_PATH, twilio_status, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
