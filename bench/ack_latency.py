"""Webhook acknowledgement benchmark: signed Twilio requests against `advisor-bot serve` on loopback.

Run: `make bench` (or `.venv/bin/python -m bench.ack_latency`). Uses the embedded PostgreSQL in a
temporary folder unless BENCH_DATABASE_URL names a server. The server runs as users run it
(`advisor-bot serve`, in-process worker, dry-run Twilio, away-message mode); the load generator
runs in its own process. Results replace the matching section of docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.docs import replace_section
from bench.server import bench_environment, run_generator, running_server

PHASES = [("sequential", 1, 1000), ("8 concurrent clients", 8, 2000)]
MODES = [("serve (web + in-process worker)", []), ("serve --no-worker (web only)", ["--no-worker"])]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _load(url: str, concurrency: int, requests: int) -> dict:
    return run_generator(
        url, "--requests", str(requests), "--concurrency", str(concurrency), "--max-seconds", "180"
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _summary(mode: str, phase: str, concurrency: int, result: dict) -> dict:
    latencies = result["latencies_ms"]
    return {
        "mode": mode,
        "phase": phase,
        "concurrency": concurrency,
        "requests": len(latencies),
        "statuses": result["statuses"],
        "median": statistics.median(latencies),
        "p95": _percentile(latencies, 0.95),
        "p99": _percentile(latencies, 0.99),
        "max": max(latencies),
        "throughput": len(latencies) / result["elapsed_s"],
    }


def _measure_server(folder: str, env: dict[str, str], mode: str, flags: list[str]) -> list[dict]:
    """Start `advisor-bot serve` with `flags`, load it, stop it; return one row per phase."""
    with running_server(folder, env, flags) as base:
        url = base + "/webhooks/twilio"
        _load(url, 4, 200)  # warm-up: caches, pools, code paths
        rows = [
            _summary(mode, name, concurrency, _load(url, concurrency, requests))
            for name, concurrency, requests in PHASES
        ]
        rows.append(_summary(mode, "bare GET /healthz, sequential", 1, _bare(base + "/healthz")))
        return rows


def _bare(url: str, requests: int = 1000) -> dict:
    """The same server's cheapest endpoint, as a ceiling for what the web stack itself costs."""
    latencies = []
    with httpx.Client(timeout=10.0) as client:
        began = time.perf_counter()
        for _ in range(requests):
            started = time.perf_counter()
            client.get(url)
            latencies.append((time.perf_counter() - started) * 1000)
        elapsed = time.perf_counter() - began
    return {"latencies_ms": latencies, "statuses": {"200": requests}, "elapsed_s": elapsed}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="advisor-bot-bench-") as folder:
        env = bench_environment(folder)
        results = []
        for mode, flags in MODES:
            results += _measure_server(folder, env, mode, flags)
    _write(results)
    for row in results:
        print(json.dumps(row))
    return 0


def _write(results: list[dict]) -> None:
    def row(r: dict) -> str:
        statuses = ", ".join(f"{code}: {count}" for code, count in r["statuses"].items())
        return (
            f"| {r['mode']} | {r['phase']} | {r['requests']} | {r['median']:.2f} | {r['p95']:.2f} | "
            f"{r['p99']:.2f} | {r['max']:.1f} | {r['throughput']:.0f} | {statuses} |"
        )

    rows = "\n".join(row(r) for r in results)
    replace_section(
        "ack-latency",
        f"""
## Webhook acknowledgement

Signed Twilio requests (`POST /webhooks/twilio`, text messages to the 7 seeded advisors from 500
customers) against `advisor-bot serve` on 127.0.0.1 with the embedded PostgreSQL: once as the
simple deployment (its in-process worker answers every message 2 s later, in away-message mode
with dry-run Twilio, on the same cores) and once web-only (`--no-worker`, as when
`advisor-bot worker` runs elsewhere). Each request stores the message, touches the conversation
and enqueues its job in one transaction before the 200. The load generator is a separate
process; latency is measured there, per request, in milliseconds. The bare `GET /healthz` row is
the same server doing no work: the floor of the web stack itself.

Command: `make bench` (`.venv/bin/python -m bench.ack_latency`).
Machine: {os.cpu_count()} cores, {_cpu_model()}, Python {platform.python_version()}.
Measured: {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}.

| server | phase | requests | median ms | p95 ms | p99 ms | max ms | req/s | HTTP statuses |
|---|---|---|---|---|---|---|---|---|
{rows}
""",
    )


if __name__ == "__main__":
    raise SystemExit(main())
