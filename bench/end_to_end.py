"""End to end with 500 conversations in flight: from the webhook to the reply accepted by Twilio.

Run: `.venv/bin/python -m bench.end_to_end` (BENCH_E2E_CONVERSATIONS, default 500;
BENCH_WORKER_CONCURRENCY, default 100). `advisor-bot serve` (web + in-process worker) on the
embedded PostgreSQL; the local fake model and fake Twilio run in this process. 500 customers
write at once (64 connections; all sent within about a second), once with a model that answers
at once and once with a model that takes 1.5 s per answer. Each latency runs from just before
the webhook request leaves to the moment the fake Twilio accepts the reply (one wall clock).
This process (client, fake model and fake Twilio, in Python threads) shares the 2 cores with the
server and PostgreSQL: on a bigger machine the figures would be better, not worse.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import httpx

from bench.docs import machine_line, measured_at, replace_section
from bench.server import ADVISORS, TOKEN, bench_environment, running_server
from bench.services import Services, local_services
from bot.cli.simulate import signed_form

MODEL_LATENCIES = (0.0, 1.5)


async def _send_all(base: str, count: int) -> dict[str, float]:
    """Post one message per customer, 64 at a time; return when each one left, by customer."""
    url = base + "/webhooks/twilio"
    sent: dict[str, float] = {}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(index: int) -> None:
            customer = f"+5733{index:08d}"
            form, signature = signed_form(
                url=url,
                auth_token=TOKEN,
                to=ADVISORS[index % len(ADVISORS)],
                from_=customer,
                text=f"Hola, ¿tienen apartamentos de 2 habitaciones? ({index})",
                sid=f"SMe2e{index:010d}{time.time_ns():020d}",
            )
            headers = {"X-Twilio-Signature": signature}
            sent[f"whatsapp:{customer}"] = time.time()
            try:
                response = await client.post(url, data=form, headers=headers)
            except httpx.TransportError:  # a kept-alive connection closed under us: retry, as Twilio does
                response = await client.post(url, data=form, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"webhook answered {response.status_code}")

        await asyncio.gather(*(one(index) for index in range(count)))
    return sent


def _measure(services: Services, base: str, count: int, model_latency: float) -> dict[str, Any]:
    services.model.latency = model_latency
    with services.twilio.lock:
        services.twilio.sent.clear()
    started = time.time()
    sent = asyncio.run(_send_all(base, count))
    all_sent = time.time() - started
    deadline = time.monotonic() + 300
    while len(services.twilio.sent) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    with services.twilio.lock:
        accepted = {message.to: message.accepted_at for message in services.twilio.sent}
    latencies = sorted((accepted[to] - sent[to]) * 1000 for to in sent if to in accepted)
    if len(latencies) < count:
        raise SystemExit(f"only {len(latencies)} of {count} replies within 300 s")
    return {
        "model_latency": model_latency,
        "median": statistics.median(latencies),
        "p95": latencies[int(0.95 * (count - 1))],
        "p99": latencies[int(0.99 * (count - 1))],
        "max": latencies[-1],
        "sent_within": all_sent,
        "done_after": max(accepted.values()) - started,
    }


def main() -> int:
    count = int(os.environ.get("BENCH_E2E_CONVERSATIONS", "500"))
    concurrency = os.environ.get("BENCH_WORKER_CONCURRENCY", "100")
    rows = []
    with tempfile.TemporaryDirectory(prefix="advisor-bot-e2e-") as folder, local_services() as services:
        env = {
            **bench_environment(folder),
            **services.environment(),
            "WORKER_CONCURRENCY": concurrency,
            "WEBHOOK_MAX_IN_FLIGHT": "0",
        }
        for deployment in ("simple", "split"):
            with running_server(folder, env, [] if deployment == "simple" else ["--no-worker"]) as base:
                worker = None
                if deployment == "split":
                    worker = subprocess.Popen(
                        [sys.executable, "-m", "bot.cli", "worker"],
                        cwd=folder,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                try:
                    _measure(services, base, 50, 0.0)  # warm-up: connections, compiled graph
                    for latency in MODEL_LATENCIES:
                        rows.append({"deployment": deployment, **_measure(services, base, count, latency)})
                        print(rows[-1], flush=True)
                finally:
                    if worker is not None:
                        worker.send_signal(signal.SIGINT)
                        worker.wait(timeout=30)
    table = "\n".join(
        f"| {r['deployment']} | {r['model_latency']:.1f} s | {r['median']:.0f} | {r['p95']:.0f} | "
        f"{r['p99']:.0f} | {r['max']:.0f} | "
        f"{r['sent_within']:.1f} s | {r['done_after']:.1f} s | {count / r['done_after']:.0f} |"
        for r in rows
    )
    replace_section(
        "end-to-end",
        f"""
## 2. End to end: {count} conversations in flight

Command: `.venv/bin/python -m bench.end_to_end` (part of `make bench`). {machine_line()}
Measured: {measured_at()}. `advisor-bot serve` (web + in-process worker, WORKER_CONCURRENCY={concurrency})
on the embedded PostgreSQL; {count} customers write at once; latency = webhook request leaving →
reply accepted by the local fake Twilio, through the real Twilio and OpenAI client libraries.

| deployment | model | median ms | p95 ms | p99 ms | max ms | all acked in | all answered in | replies/s |
|---|---|---|---|---|---|---|---|---|
{table}

With an instant model the worker's own cost sets the pace (section 4 counts its statements);
with 1.5 s per answer, WORKER_CONCURRENCY answers run at once, so {count} conversations need about
{count} / {concurrency} × 1.5 s plus that cost. More worker processes (`advisor-bot worker`) add
concurrency without touching the web process. *simple* is `advisor-bot serve` (web and worker
share one event loop); *split* is `advisor-bot serve --no-worker` plus one `advisor-bot worker`
process, as in the Procfile. "all acked in" is how long the {count} webhooks took to be
acknowledged: in the simple deployment the busy worker slows the acknowledgements too.
""",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
