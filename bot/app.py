"""Owns the web application: its routes, and the lifespan that opens what the process runs.

The web side (`bot.web`) always runs; with `run_worker` the queue worker (`bot.worker`) runs in
the same process too. Without it, the process never imports the worker, the agent or LangGraph.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from bot.infra.database import DATABASE_UNAVAILABLE, resolve_database
from bot.infra.heap import freeze_startup_objects
from bot.infra.job_queue import open_job_queue
from bot.logging_setup import configure_logging
from bot.migrations import upgrade_on_start
from bot.settings import Settings
from bot.twilio.paths import STATUS_CALLBACK_PATH, WEBHOOK_PATH
from bot.web.access_log import AccessLog
from bot.web.api import router as api_router
from bot.web.api_docs import ASSETS_PATH, DOCS_PATH, docs_assets, swagger_ui
from bot.web.console import router as console_router
from bot.web.console.guard import SignInRequiredError
from bot.web.console.media_policy import SandboxMedia
from bot.web.console.missing import console_not_found
from bot.web.console.rendering import STATIC_DIR
from bot.web.delivery_status import delivery_status
from bot.web.health import healthz, readyz
from bot.web.load import ClientCap, LoadState
from bot.web.media_links import media_file
from bot.web.metrics_endpoint import WebhookMetrics, metrics
from bot.web.request_limits import EXCEPTION_HANDLERS, BodyLimits
from bot.web.runtime import open_web_runtime
from bot.web.webhook import twilio_webhook
from memory.records.media_files import MEDIA_PATH

logger = logging.getLogger(__name__)


async def database_unavailable(request: Request, error: Exception) -> Response:
    """The API's answer while the database is unreachable: retry later, never a stack trace."""
    logger.error("database unavailable", extra={"path": request.url.path, "error": type(error).__name__})
    return JSONResponse(
        {"detail": "database unavailable, retry later"}, status_code=503, headers={"Retry-After": "5"}
    )


async def sign_in_required(request: Request, error: Exception) -> Response:
    """A console request without a valid session goes to the sign-in page (htmx: HX-Redirect)."""
    login = str(request.url_for("console_login"))
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": login})
    return RedirectResponse(login, status_code=303)


async def to_console(request: Request) -> Response:
    """`/` is the console's inbox."""
    return RedirectResponse(request.url_for("console_inbox"), status_code=307)


RUN_WORKER_ENV = "ADVISOR_BOT_RUN_WORKER"
# Open as long as a console page is: capped per session (CONSOLE_STREAMS_PER_SESSION) instead.
LONG_LIVED_PATHS = frozenset({"/console/events"})


def app_from_environment() -> FastAPI:
    """The app of one of `serve --workers N`'s processes.

    Its settings and whether it runs a worker come from the environment `advisor-bot serve` set.
    """
    return create_app(run_worker=os.environ.get(RUN_WORKER_ENV, "true") == "true")


def create_app(settings: Settings | None = None, *, run_worker: bool = True) -> FastAPI:
    """Build the ASGI app; with `run_worker`, the queue worker runs in the same process.

    FastAPI (a Starlette application) serves the JSON API and its OpenAPI document at
    `/openapi.json`; the Twilio webhooks and health checks are plain Starlette routes.
    """
    settings = settings or Settings()
    load = LoadState()  # shared by the per-client cap (outermost) and the handlers

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
        configure_logging(settings)
        database = resolve_database(settings)
        await upgrade_on_start(database)
        async with (
            open_job_queue(database, settings) as queue,
            open_web_runtime(settings, database, queue, load=load) as web,
        ):
            if not run_worker:
                freeze_startup_objects()
                yield {"runtime": web, "worker": None}
                return
            from bot.worker.runner import run_worker as running  # only here: it loads the agent

            async with running(settings, database, queue) as worker:
                freeze_startup_objects()
                yield {"runtime": web, "worker": worker}

    app = FastAPI(
        title="advisor-bot",
        summary="One Twilio WhatsApp webhook for many sales advisors, answered by an AI agent.",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # served below, from local assets
        redoc_url=None,
    )
    app.add_route(WEBHOOK_PATH, twilio_webhook, methods=["POST"], include_in_schema=False)
    app.add_route(STATUS_CALLBACK_PATH, delivery_status, methods=["POST"], include_in_schema=False)
    app.add_route(MEDIA_PATH + "/{name}", media_file, methods=["GET"], include_in_schema=False)
    app.add_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.add_route("/readyz", readyz, methods=["GET"], include_in_schema=False)
    app.add_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    app.include_router(api_router)
    app.add_route(DOCS_PATH, swagger_ui, methods=["GET"], include_in_schema=False)
    app.mount(ASSETS_PATH, docs_assets(), name="docs_assets")
    app.add_route("/", to_console, methods=["GET"], include_in_schema=False)
    app.include_router(console_router)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console_static")
    app.add_exception_handler(SignInRequiredError, sign_in_required)
    app.add_exception_handler(StarletteHTTPException, console_not_found)
    # Console pages and API pages shrink about tenfold; webhook answers are below the minimum,
    # and server-sent events are never compressed (Starlette excludes text/event-stream).
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.add_middleware(SandboxMedia)  # outside the routes: error answers are sandboxed too
    app.add_middleware(AccessLog)
    app.add_middleware(WebhookMetrics)
    app.add_middleware(BodyLimits, settings=settings)  # before anything reads a body
    app.add_middleware(  # outermost
        ClientCap, load=load, limit=settings.max_connections_per_client, exempt=LONG_LIVED_PATHS
    )
    for refused, handler in EXCEPTION_HANDLERS:
        app.add_exception_handler(refused, handler)
    for error_type in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error_type, database_unavailable)
    return app
