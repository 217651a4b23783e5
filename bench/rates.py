"""Offered-rate benchmark: webhook latency at fixed request rates, against the bare endpoint.

Run: `.venv/bin/python -m bench.rates` (BENCH_SECONDS per rate, default 30; BENCH_RATES, default
"50,100,200,300,500"). Open loop: requests start on schedule whatever the answers' latency, so a
server falling behind shows it as latency and errors. The server is `advisor-bot serve` (web +
in-process worker in away-message mode) on the embedded PostgreSQL; the generator is its own
process. The same server's `GET /healthz` (no work at all) is the ceiling: both are also
measured closed-loop with 16 clients for their maximum throughput, and the ratio is reported.
Bounded: at most 120 s per rate, 5,000 requests/s.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
from datetime import UTC, datetime

from bench.docs import replace_section
from bench.server import bench_environment, run_generator, running_server

P99_TARGET_MS = 50.0


def _stats(result: dict) -> dict:
    latencies = sorted(result["latencies_ms"])
    errors = sum(count for status, count in result["statuses"].items() if status != "200")
    return {
        "requests": len(latencies),
        "median": statistics.median(latencies),
        "p95": latencies[int(0.95 * (len(latencies) - 1))],
        "p99": latencies[int(0.99 * (len(latencies) - 1))],
        "errors": errors,
        "throughput": len(latencies) / result["elapsed_s"],
    }


def main() -> int:
    seconds = float(os.environ.get("BENCH_SECONDS", "30"))
    rates = [float(r) for r in os.environ.get("BENCH_RATES", "50,100,200,300,500").split(",")]
    web_only = os.environ.get("BENCH_WEB_ONLY") == "1"
    rows = []
    with tempfile.TemporaryDirectory(prefix="advisor-bot-rates-") as folder:
        env = bench_environment(folder)
        with running_server(folder, env, ["--no-worker"] if web_only else []) as base:
            webhook, bare = base + "/webhooks/twilio", base + "/healthz"
            run_generator(webhook, "--requests", "300", "--concurrency", "4")  # warm-up
            for rate in rates:
                stats = _stats(run_generator(webhook, "--rate", str(rate), "--duration", str(seconds)))
                rows.append({"rate": rate, **stats})
                print(json.dumps(rows[-1]))
            ceiling_webhook = _stats(run_generator(webhook, "--requests", "3000", "--concurrency", "16"))
            ceiling_bare = _stats(
                run_generator(bare, "--requests", "3000", "--concurrency", "16", "--method", "GET")
            )
    held = [row["rate"] for row in rows if row["p99"] < P99_TARGET_MS and row["errors"] == 0]
    _write(rows, ceiling_webhook, ceiling_bare, max(held) if held else None, seconds, web_only)
    return 0


def _write(
    rows: list[dict], webhook: dict, bare: dict, held: float | None, seconds: float, web_only: bool
) -> None:
    table = "\n".join(
        f"| {r['rate']:.0f} | {r['requests']} | {r['median']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | "
        f"{r['errors']} | {r['throughput']:.0f} |"
        for r in rows
    )
    ratio = webhook["throughput"] / bare["throughput"]
    measured = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    held_text = f"{held:.0f} requests/s" if held is not None else "none of the rates tried"
    server = (
        "`advisor-bot serve --no-worker` (web only; the jobs wait in the queue)"
        if web_only
        else "`advisor-bot serve` (web + in-process worker answering every message in away-message mode)"
    )
    web_flag = " BENCH_WEB_ONLY=1" if web_only else ""
    replace_section(
        "rates-web-only" if web_only else "rates",
        f"""
## Webhook at fixed offered rates: {"web only" if web_only else "simple deployment"}

Open loop, {seconds:.0f} s per rate, signed requests to {server}, embedded PostgreSQL, from a
separate process on 127.0.0.1.

Command: `BENCH_SECONDS={seconds:.0f}{web_flag} .venv/bin/python -m bench.rates`.
Machine: {os.cpu_count()} cores, Python {platform.python_version()}. Measured: {measured}.

| offered req/s | requests | median ms | p95 ms | p99 ms | errors | achieved req/s |
|---|---|---|---|---|---|---|
{table}

Highest offered rate held with p99 under {P99_TARGET_MS:.0f} ms and no errors: **{held_text}**.

Ceiling, closed loop with 16 clients, same server, same run: webhook {webhook["throughput"]:.0f} req/s
(p99 {webhook["p99"]:.1f} ms) against the bare `GET /healthz` {bare["throughput"]:.0f} req/s
(p99 {bare["p99"]:.1f} ms): the webhook reaches **{ratio:.0%}** of the bare endpoint's throughput.
The load generator shares the machine's {os.cpu_count()} cores with the server and PostgreSQL.
""",
    )


if __name__ == "__main__":
    raise SystemExit(main())
