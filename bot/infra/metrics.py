"""Owns the server's Prometheus metrics: what every stage counts, and what is read at scrape time.

Counters and histograms are incremented where things happen (webhook, jobs, model, Twilio);
the queue's depth and oldest job, the database pools and the advisor cache are read when
`/metrics` is scraped. With PROMETHEUS_MULTIPROC_DIR set (several processes of one machine,
e.g. `uvicorn --workers`), prometheus-client aggregates every process's files; without it, each
process reports its own, and a separate worker process is scraped on its own `/metrics`.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector
from pydantic import SecretStr

WEBHOOK_REQUESTS = Counter(
    "advisor_bot_webhook_requests_total", "Twilio webhook requests, by HTTP status", ["status"]
)
WEBHOOK_SECONDS = Histogram(
    "advisor_bot_webhook_seconds",
    "Time to answer Twilio's webhook",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
JOBS = Counter("advisor_bot_jobs_total", "Queue jobs finished, by task and outcome", ["task", "outcome"])
JOB_SECONDS = Histogram(
    "advisor_bot_job_seconds",
    "Time a queue job ran, by task",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
REPLIES = Counter("advisor_bot_replies_total", "Customer turns, by what became of them", ["status"])
MODEL_SECONDS = Histogram(
    "advisor_bot_model_seconds",
    "Chat model call latency, by advisor",
    ["advisor"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0),
)
MODEL_TOKENS = Counter(
    "advisor_bot_model_tokens_total",
    "Model tokens, by advisor and kind (prompt, completion)",
    ["advisor", "kind"],
)
COSTS = Counter(
    "advisor_bot_cost_usd_total",
    "What was spent, in USD, by advisor and kind: whatsapp_<category>, twilio, and model_<purpose> "
    "(answer, summary, embedding, transcription, speech)",
    ["advisor", "kind"],
)
FOLDS = Counter(
    "advisor_bot_folds_total",
    "Folds of old turns into the summary, by outcome (folded by the model, failed, waiting after "
    "a failure, extractive: made from the customer's sentences without the model)",
    ["outcome"],
)
TWILIO_ERRORS = Counter(
    "advisor_bot_twilio_errors_total", "Twilio refusals and failures, by error code", ["code"]
)


class ScrapeTimeCollector(Collector):
    """Gauges read when scraped, from callables the running processes register."""

    def __init__(self) -> None:
        self._sources: dict[str, Callable[[], Iterable[Metric]]] = {}

    def register(self, name: str, source: Callable[[], Iterable[Metric]]) -> None:
        """Add (or replace) a source of metrics, e.g. a pool's statistics."""
        self._sources[name] = source

    def unregister(self, name: str) -> None:
        """Drop a source when what it reads is closed."""
        self._sources.pop(name, None)

    def collect(self) -> Iterable[Metric]:
        """Every registered source's metrics, now."""
        for source in list(self._sources.values()):
            yield from source()


SCRAPE_TIME = ScrapeTimeCollector()
REGISTRY.register(SCRAPE_TIME)


def gauge(name: str, documentation: str, values: dict[tuple[str, ...], float], labels: list[str]) -> Metric:
    """A gauge family from label values → value."""
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for label_values, value in values.items():
        family.add_metric(list(label_values), value)
    return family


def exposition(extra: Iterable[Metric] = ()) -> bytes:
    """The text exposition of every metric, plus `extra` read by the caller (async sources)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(SCRAPE_TIME)
    else:
        registry = REGISTRY
    extras = list(extra)
    text = generate_latest(registry)
    if extras:
        once = CollectorRegistry()
        once.register(_Fixed(extras))
        text += generate_latest(once)
    return text


class _Fixed(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return iter(self._metrics)


def pool_stats(pool: Any, name: str) -> Iterable[Metric]:
    """A psycopg pool's size, idle connections and waiting requests."""
    stats = pool.get_stats()
    yield gauge(
        "advisor_bot_db_pool_connections",
        "Database pool connections, by pool and state",
        {
            (name, "open"): float(stats.get("pool_size", 0)),
            (name, "idle"): float(stats.get("pool_available", 0)),
            (name, "waiting_requests"): float(stats.get("requests_waiting", 0)),
        },
        ["pool", "state"],
    )


SCRAPE_REFUSED = "metrics need the METRICS_TOKEN bearer token\n"


def scrape_allowed(authorization: str, token: SecretStr | None) -> bool:
    """Whether a scrape may read the metrics: always without METRICS_TOKEN, else its bearer token."""
    if token is None:
        return True
    presented = authorization.removeprefix("Bearer ").strip()
    return hmac.compare_digest(presented.encode(), token.get_secret_value().encode())


def metrics_app(token: SecretStr | None) -> Callable[..., Any]:
    """A bare ASGI app answering `GET /metrics`, for a process without the web app (the worker).

    The queue's depth is left to the web's `/metrics`, which reads it from the database.
    """

    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        if scope["path"] != "/metrics":
            status, body, kind = 404, b"only /metrics here\n", "text/plain"
        elif not scrape_allowed(headers.get("authorization", ""), token):
            status, body, kind = 401, SCRAPE_REFUSED.encode(), "text/plain"
        else:
            status, body, kind = 200, exposition(), CONTENT_TYPE_LATEST
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", kind.encode())]}
        )
        await send({"type": "http.response.body", "body": body})

    return app
