"""Owns what the web process holds for its whole life: pool, advisor routing, queue, limits.

Nothing here runs the agent or sends to Twilio: the web side records and enqueues, the worker
(`bot.worker`) answers. A process that serves both simply opens both.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import procrastinate
from psycopg_pool import AsyncConnectionPool

from advisors.console_access import admin_fingerprint, cookie_key
from advisors.invalidation import AdvisorCache, FingerprintWatch, follow_notifications
from advisors.models import Advisor
from advisors.repository import get_advisor_by_number
from advisors.resolver import AdvisorResolver
from advisors.tokens import TokenCache
from bot.infra.background import keep_running, stop_task
from bot.infra.database import Database, connection_kwargs, open_pool, single_statements
from bot.infra.events import EventPublisher
from bot.infra.knowledge import open_knowledge
from bot.infra.metrics import SCRAPE_TIME, pool_stats
from bot.infra.pricing import Pricing
from bot.infra.ratelimit import FailureThrottle, RateLimiter
from bot.settings import Settings
from bot.twilio.signature import local_auth_token
from bot.web.live import POLL_SECONDS, ChangePoll, ConsoleHub
from bot.web.load import LoadState
from bot.web.media_cache import MediaCache
from memory.knowledge.searcher import KnowledgeSearcher

logger = logging.getLogger(__name__)

LISTEN_RETRY_SECONDS = 2.0
FINGERPRINT_POLL_SECONDS = 5.0
AUTH_FAILURE_BURST = 10.0  # a person mistyping a token a few times is never throttled


@dataclass
class WebRuntime:
    """Everything a request handler needs, built once per process."""

    settings: Settings
    pool: AsyncConnectionPool[Any]
    resolver: AdvisorResolver
    queue: procrastinate.App
    events: EventPublisher
    auth_token: str | None
    media_key: bytes
    webhook_limiter: RateLimiter
    api_limiter: RateLimiter
    auth_failures: FailureThrottle
    tokens: TokenCache
    console_key: bytes
    knowledge: KnowledgeSearcher
    media_cache: MediaCache
    pricing: Pricing | None = None  # what the searches' embedding calls cost (bot.infra.usage_costs)
    console_hub: ConsoleHub = field(default_factory=ConsoleHub)
    admin_fingerprint: str | None = None  # the current ADMIN_TOKEN's (advisors.console_access)

    def is_admin_token(self, presented: str) -> bool:
        """Whether `presented` is ADMIN_TOKEN (compared in constant time; never with none set)."""
        admin = self.settings.admin_token
        return (
            bool(presented)
            and admin is not None
            and hmac.compare_digest(presented.encode(), admin.get_secret_value().encode())
        )

    load: LoadState = field(default_factory=LoadState)


@contextlib.asynccontextmanager
async def open_web_runtime(
    settings: Settings, database: Database, queue: procrastinate.App, *, load: LoadState | None = None
) -> AsyncIterator[WebRuntime]:
    """Open the web side's clients on an opened queue; close them when the block ends."""
    pool = await open_pool(database, settings=settings, name="app")
    knowledge: KnowledgeSearcher | None = None
    media_cache = MediaCache(settings.console_media_cache_bytes)
    try:

        async def lookup(number: str) -> Advisor | None:
            async with single_statements(pool) as conn:
                return await get_advisor_by_number(conn=conn, number=number)

        auth_token = local_auth_token(settings)
        async with pool.connection() as conn:
            console_key = await cookie_key(conn=conn)
        knowledge = await open_knowledge(settings, pool)
        runtime = WebRuntime(
            pricing=Pricing.from_settings(settings),
            settings=settings,
            pool=pool,
            resolver=AdvisorResolver(
                lookup, ttl=settings.advisor_cache_ttl, negative_ttl=settings.unknown_number_cache_ttl
            ),
            queue=queue,
            events=EventPublisher(settings, queue),
            auth_token=auth_token,
            media_key=settings.media_key(auth_token),
            webhook_limiter=RateLimiter(settings.webhook_rate_limit),
            api_limiter=RateLimiter(settings.api_rate_limit),
            auth_failures=FailureThrottle(settings.api_auth_failure_rate_limit, burst=AUTH_FAILURE_BURST),
            tokens=TokenCache(),
            console_key=console_key,
            admin_fingerprint=admin_fingerprint(
                settings.admin_token.get_secret_value() if settings.admin_token else None, console_key
            ),
            knowledge=knowledge,
            media_cache=media_cache,
            load=load or LoadState(),
        )
        if settings.validate_twilio_signature and auth_token is None:
            logger.warning("no TWILIO_AUTH_TOKEN: every webhook will be refused with 403")
        SCRAPE_TIME.register("web_pool", lambda: pool_stats(pool, "web"))
        watcher = await _watch_advisor_changes([runtime.resolver, runtime.tokens], database)
        live = _follow_console_changes(runtime.console_hub, pool)
        try:
            yield runtime
        finally:
            await stop_task(live, "console change follower")
            await stop_task(watcher, "advisor change watcher")
    finally:
        SCRAPE_TIME.unregister("web_pool")
        media_cache.close()
        if knowledge is not None:
            await knowledge.aclose()
        await pool.close()


async def _watch_advisor_changes(caches: list[AdvisorCache], database: Database) -> asyncio.Task[None]:
    """Keep the advisor and token caches in step with the tables; returns once the watcher is in place."""
    ready = asyncio.Event()
    kwargs = {**connection_kwargs(database), "application_name": "advisor-bot listener"}
    if database.transaction_pooler:  # LISTEN needs a session of its own: poll a fingerprint instead
        watch = FingerprintWatch(database.conninfo, caches, connection_kwargs=kwargs, ready=ready)
        watcher = keep_running(watch.look, what="advisor change poll", pause=FINGERPRINT_POLL_SECONDS)
    else:

        async def listen() -> None:
            await follow_notifications(database.conninfo, caches, connection_kwargs=kwargs, ready=ready)

        watcher = keep_running(listen, what="advisor change listener", pause=LISTEN_RETRY_SECONDS)
    task = asyncio.create_task(watcher, name="advisor-bot-advisor-watcher")
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ready.wait(), timeout=10)
    return task


def _follow_console_changes(hub: ConsoleHub, pool: AsyncConnectionPool[Any]) -> asyncio.Task[None]:
    """Hand every conversation change to the console pages open on this process."""
    poll = ChangePoll(pool, hub)
    follower = keep_running(
        poll.look,
        what="console change poll",
        pause=POLL_SECONDS,
        retry_after=LISTEN_RETRY_SECONDS,  # an outage: a warning every few seconds, not two a second
        max_retry_after=30.0,
    )
    return asyncio.create_task(follower, name="advisor-bot-console-follower")
