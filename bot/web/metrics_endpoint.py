"""Owns `GET /metrics` (Prometheus) and the webhook's request metrics.

Open when METRICS_TOKEN is unset (a private network scrapes it), else only with
`Authorization: Bearer <METRICS_TOKEN>`. The queue's depth and oldest waiting job are read from
the database at scrape time, bounded by a one-second timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import CounterMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.infra.metrics import (
    SCRAPE_REFUSED,
    WEBHOOK_REQUESTS,
    WEBHOOK_SECONDS,
    exposition,
    gauge,
    scrape_allowed,
)
from bot.twilio.paths import WEBHOOK_PATH
from bot.web.response_status import StatusCapture
from bot.web.runtime import WebRuntime

_QUEUE = """
    SELECT j.task_name, count(*) AS depth,
           greatest(0, coalesce(extract(epoch FROM now() - min(coalesce(e.at, j.scheduled_at))), 0)) AS oldest
      FROM procrastinate_jobs j
      LEFT JOIN LATERAL (
          SELECT min(at) AS at FROM procrastinate_events WHERE job_id = j.id AND type = 'deferred'
      ) e ON true
     WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
     GROUP BY j.task_name
"""


async def metrics(request: Request) -> Response:
    """Every metric of this process, plus the queue as the database sees it."""
    runtime: WebRuntime = request.state.runtime
    if not scrape_allowed(request.headers.get("authorization", ""), runtime.settings.metrics_token):
        return Response(SCRAPE_REFUSED, status_code=401)
    extra = list(await _queue(runtime)) + list(_cache(runtime))
    return Response(exposition(extra), media_type=CONTENT_TYPE_LATEST)


async def _queue(runtime: WebRuntime) -> Iterable[Metric]:
    depth: dict[tuple[str, ...], float] = {}
    oldest: dict[tuple[str, ...], float] = {}
    try:
        async with asyncio.timeout(1.0), runtime.pool.connection(timeout=1.0) as conn:
            cursor = await conn.execute(_QUEUE)
            for row in await cursor.fetchall():
                depth[(row["task_name"],)] = float(row["depth"])
                oldest[(row["task_name"],)] = float(row["oldest"])
    except (TimeoutError, OSError, Exception):  # noqa: BLE001 - a scrape must answer; readyz reports the database
        return []
    return [
        gauge("advisor_bot_queue_depth", "Jobs waiting to run, by task", depth, ["task"]),
        gauge("advisor_bot_queue_oldest_seconds", "Age of the oldest waiting job, by task", oldest, ["task"]),
    ]


def _cache(runtime: WebRuntime) -> Iterable[Metric]:
    stats = runtime.resolver.stats
    family = CounterMetricFamily(
        "advisor_bot_advisor_cache_lookups", "Advisor look-ups by the webhook, by result", labels=["result"]
    )
    family.add_metric(["hit"], float(stats.hits))
    family.add_metric(["miss"], float(stats.misses))
    yield family


class WebhookMetrics:
    """ASGI middleware: counts Twilio webhook requests by status and times them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; for the webhook, count and time it."""
        if scope["type"] != "http" or scope["path"] != WEBHOOK_PATH:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sending = StatusCapture(send)
        try:
            await self.app(scope, receive, sending)
        finally:
            WEBHOOK_SECONDS.observe(time.perf_counter() - started)
            WEBHOOK_REQUESTS.labels(str(sending.status)).inc()
