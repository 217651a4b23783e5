"""Owns the web application: routes, and the lifespan that opens and closes the runtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from bot.api import router as api_router
from bot.logging_setup import configure_logging
from bot.media_store import MEDIA_PATH, media_link_valid
from bot.paths import STATUS_CALLBACK_PATH, WEBHOOK_PATH
from bot.runtime import open_runtime
from bot.settings import Settings
from bot.status import twilio_status
from bot.webhook import DATABASE_UNAVAILABLE, twilio_webhook, twiml_ok

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


async def media_file(request: Request) -> Response:
    """Serve a local media file to Twilio; a tampered, expired or unknown link is a 404."""
    runtime = request.state.runtime
    name = request.path_params["name"]
    valid = media_link_valid(
        name,
        request.query_params.get("expires", ""),
        request.query_params.get("signature", ""),
        key=runtime.media_key,
    )
    path = runtime.settings.media_dir / name
    if not valid or not path.is_file():
        return JSONResponse({"detail": "not found"}, status_code=404)
    return FileResponse(path, media_type="audio/ogg" if name.endswith(".ogg") else None)


async def database_unavailable(request: Request, error: Exception) -> Response:
    """The API's answer while the database is unreachable: retry later, never a stack trace."""
    logger.error("database unavailable", extra={"path": request.url.path, "error": type(error).__name__})
    return JSONResponse(
        {"detail": "database unavailable, retry later"}, status_code=503, headers={"Retry-After": "5"}
    )


async def bare_twiml(request: Request) -> Response:
    """The benchmarks' ceiling: what the webhook answers, without reading, checking or storing."""
    return twiml_ok()


def create_app(settings: Settings | None = None, *, run_worker: bool = True) -> FastAPI:
    """Build the ASGI app; with `run_worker`, the queue worker runs in the same process.

    FastAPI (a Starlette application) serves the JSON API and its OpenAPI document at
    `/openapi.json`; the Twilio webhooks and health checks are plain Starlette routes.
    """
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
        configure_logging(settings)
        async with open_runtime(settings, worker=run_worker) as runtime:
            app.state.runtime = runtime
            yield {"runtime": runtime}

    app = FastAPI(
        title="advisor-bot",
        summary="One Twilio WhatsApp webhook for many sales advisors, answered by an AI agent.",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.add_route(WEBHOOK_PATH, twilio_webhook, methods=["POST"], include_in_schema=False)
    app.add_route(STATUS_CALLBACK_PATH, twilio_status, methods=["POST"], include_in_schema=False)
    app.add_route(MEDIA_PATH + "/{name}", media_file, methods=["GET"], include_in_schema=False)
    if settings.bench_bare_endpoint:
        app.add_route("/bench/bare", bare_twiml, methods=["POST"], include_in_schema=False)
    app.add_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.add_route("/readyz", readyz, methods=["GET"], include_in_schema=False)
    app.include_router(api_router)
    for error_type in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error_type, database_unavailable)
    return app
