"""Acknowledgement at fixed offered rates, and the ratio to the same server's bare endpoint.

Run: `.venv/bin/python -m bench.rates` (BENCH_SECONDS per rate, default 30; BENCH_RATES, default
"50,100,200,300,400,500"). wrk, in its own process, sends distinct signed webhooks on an absolute
schedule (bench/paced.lua), so a server falling behind shows as latency, refusals and an achieved
rate below the offered one. Two deployments, each a fresh `advisor-bot serve` on the embedded
PostgreSQL: the simple one (web + in-process worker answering every message with the away message)
and web only (`--no-worker`; the jobs wait in the queue). The ceiling is the same server's
`POST /bench/bare` (bench/bare_server.py adds it; the product never serves it), the same empty
TwiML without any work, measured flat out with the webhook in the same run. Bounded: every wrk
run stops after its duration.

With BENCH_BASELINE=<git revision>, only the ceilings are measured, for that revision and then
for this tree, in one run (bench.cost explains how a revision is run), in BENCH_ROUNDS pairs
(default 5), and written to their own section: the before/after comparison of a change.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from dataclasses import asdict
from pathlib import Path

from bench.docs import DOC, machine_line, measured_at, replace_section
from bench.server import ROOT, bench_environment, compared_trees, running_server
from bench.wrk import WrkResult, connections_for, run_wrk, write_requests

P99_TARGET_MS = 50.0
CEILING_SECONDS = 10.0
CEILING_CONNECTIONS = 64
COMPARE_ROUNDS = 5
DEPLOYMENTS = {
    "simple": ([], "`advisor-bot serve` (web + in-process worker)"),
    "web-only": (["--no-worker"], "`advisor-bot serve --no-worker`"),
}
PLOT = DOC.parent / "img" / "latency-vs-rate.png"
DATA = DOC.parent / "data" / "rates.json"


def measure(deployment: str, rates: list[float], seconds: float, code: Path = ROOT) -> dict[str, object]:
    flags, _ = DEPLOYMENTS[deployment]
    with tempfile.TemporaryDirectory(prefix="advisor-bot-rates-") as folder:
        env = bench_environment(folder, code)
        with running_server(folder, env, flags, with_bare=True) as base:
            webhook, bare = base + "/webhooks/twilio", base + "/bench/bare"
            requests = Path(folder) / "requests.txt"
            run_wrk(webhook, write_requests(requests, webhook, 1000), rate=100, seconds=5, connections=16)
            rows: list[WrkResult] = []
            for rate in rates:
                write_requests(requests, webhook, int(rate * seconds * 1.05) + 200)
                rows.append(
                    run_wrk(webhook, requests, rate=rate, seconds=seconds, connections=connections_for(rate))
                )
                print(deployment, json.dumps(asdict(rows[-1])), flush=True)
            write_requests(requests, webhook, 40_000)
            ceiling = run_wrk(
                webhook, requests, rate=0, seconds=CEILING_SECONDS, connections=CEILING_CONNECTIONS
            )
            bare_ceiling = run_wrk(
                bare, requests, rate=0, seconds=CEILING_SECONDS, connections=CEILING_CONNECTIONS
            )
            print(deployment, "ceilings", ceiling.throughput, bare_ceiling.throughput, flush=True)
    return {"rows": rows, "ceiling": ceiling, "bare": bare_ceiling}


def held(rows: list[WrkResult]) -> float | None:
    """The highest offered rate served on schedule, without errors, with p99 under the target."""
    ok = [
        row.offered
        for row in rows
        if row.p99 < P99_TARGET_MS and row.errors == 0 and row.throughput >= 0.97 * row.offered
    ]
    return max(ok) if ok else None


def compare(revision: str) -> int:
    """Ceilings of `revision` and of this tree, measured as pairs, several rounds.

    This machine's speed drifts by up to 1.6 × between minutes, so a best-of-two per tree could
    still be decided by one slow minute. Each round measures one deployment on both trees back to
    back (the order alternating between rounds), so the pair shares the machine's state; the gain
    reported is the median over rounds of after / before within a pair.
    """
    rounds = int(os.environ.get("BENCH_ROUNDS", COMPARE_ROUNDS))
    pairs: dict[str, list[dict[str, dict[str, WrkResult]]]] = {name: [] for name in DEPLOYMENTS}
    with compared_trees(revision) as trees:
        for turn in range(rounds):
            for deployment in DEPLOYMENTS:
                order = trees if turn % 2 == 0 else trees[::-1]
                pair = {label: measure(deployment, [], 0, code) for code, label in order}
                pairs[deployment].append(pair)  # type: ignore[arg-type]
    (_, before_label), (_, after_label) = trees

    gains = {
        deployment: [
            pair[after_label]["ceiling"].throughput / pair[before_label]["ceiling"].throughput
            for pair in pairs[deployment]
        ]
        for deployment in DEPLOYMENTS
    }

    def cell(result: dict[str, WrkResult]) -> str:
        ceiling, bare = result["ceiling"], result["bare"]
        ratio = ceiling.throughput / bare.throughput
        return f"{ceiling.throughput:.0f} / {bare.throughput:.0f} ({ratio:.1%})"

    rows = "\n".join(
        f"| {turn + 1} | {deployment} | {cell(pair[before_label])} | {cell(pair[after_label])} | "
        f"{gain:.2f} × |"
        for deployment in DEPLOYMENTS
        for turn, (pair, gain) in enumerate(zip(pairs[deployment], gains[deployment], strict=True))
    )
    summary = "\n".join(
        f"- {deployment}: webhook ceiling **{statistics.median(gain):.2f} ×** the revision's "
        f"(median of {rounds} pairs; lowest {min(gain):.2f} ×, highest {max(gain):.2f} ×)."
        for deployment, gain in gains.items()
    )
    rounds_setting = "" if rounds == COMPARE_ROUNDS else f"BENCH_ROUNDS={rounds} "
    replace_section(
        "rates-compare",
        f"""
### Before and after a change: the webhook's ceiling

Command: `{rounds_setting}BENCH_BASELINE={revision} .venv/bin/python -m bench.rates`. {machine_line()}
Measured: {measured_at()}. Each deployment flat out ({CEILING_CONNECTIONS} connections,
{CEILING_SECONDS:.0f} s) and then the same server's bare endpoint, on both trees back to back
(a pair, the order alternating between rounds), {rounds} rounds. A pair shares the machine's
state of the moment, so its after / before holds even when the machine's speed drifts between
rounds; the median of the pairs is the result.

| round | deployment | before: webhook / bare req/s | after: webhook / bare req/s | after / before |
|---|---|---|---|---|
{rows}

{summary}
""",
    )
    return 0


def main() -> int:
    if os.environ.get("BENCH_BASELINE"):
        return compare(os.environ["BENCH_BASELINE"])
    seconds = float(os.environ.get("BENCH_SECONDS", "30"))
    rates = [float(r) for r in os.environ.get("BENCH_RATES", "50,100,200,300,400,500").split(",")]
    results = {name: measure(name, rates, seconds) for name in DEPLOYMENTS}
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(
        json.dumps(
            {
                name: {
                    key: [asdict(r) for r in v] if isinstance(v, list) else asdict(v)
                    for key, v in result.items()
                }  # type: ignore[arg-type]
                for name, result in results.items()
            },
            indent=1,
        )
    )
    _plot(results)
    _write(results, seconds)
    return 0


def _plot(results: dict[str, dict[str, object]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.2), dpi=110)
    for name, result in results.items():
        rows: list[WrkResult] = result["rows"]  # type: ignore[assignment]
        offered = [row.offered for row in rows]
        axis.plot(offered, [row.p99 for row in rows], marker="o", label=f"{name}: p99")
        axis.plot(offered, [row.median for row in rows], marker=".", linestyle="--", label=f"{name}: median")
    axis.axhline(
        P99_TARGET_MS, color="grey", linewidth=0.8, linestyle=":", label=f"{P99_TARGET_MS:.0f} ms target"
    )
    axis.set_yscale("log")
    axis.set_xlabel("offered webhook requests per second")
    axis.set_ylabel("acknowledgement latency, ms (log)")
    axis.set_title(f"Webhook latency against offered rate ({os.cpu_count()} cores, one process)")
    axis.grid(True, which="both", linewidth=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOT)


def _table(rows: list[WrkResult]) -> str:
    return "\n".join(
        f"| {r.offered:.0f} | {r.throughput:.0f} | {r.requests} | {r.median:.1f} | {r.p95:.1f} | "
        f"{r.p99:.1f} | {r.errors} |"
        for r in rows
    )


def _write(results: dict[str, dict[str, object]], seconds: float) -> None:
    parts = []
    for name, (_, server) in DEPLOYMENTS.items():
        result = results[name]
        rows: list[WrkResult] = result["rows"]  # type: ignore[assignment]
        ceiling: WrkResult = result["ceiling"]  # type: ignore[assignment]
        bare: WrkResult = result["bare"]  # type: ignore[assignment]
        best = held(rows)
        at_200 = next((row for row in rows if row.offered == 200), None)
        parts.append(
            f"""
### {name}: {server}

| offered req/s | achieved req/s | requests | median ms | p95 ms | p99 ms | errors (503 shed, timeouts) |
|---|---|---|---|---|---|---|
{_table(rows)}

- Highest offered rate held (on schedule, no errors, p99 < {P99_TARGET_MS:.0f} ms):
  **{f"{best:.0f} requests/s" if best else "none of the rates tried"}**.
- p99 at 200 requests/s: **{f"{at_200.p99:.1f} ms" if at_200 else "not measured"}**.
- Ceiling, flat out with {CEILING_CONNECTIONS} connections for {CEILING_SECONDS:.0f} s: webhook
  {ceiling.throughput:.0f} req/s (p99 {ceiling.p99:.0f} ms, {ceiling.errors} refused) against the bare
  endpoint {bare.throughput:.0f} req/s (p99 {bare.p99:.1f} ms): **{ceiling.throughput / bare.throughput:.1%}
  of the bare endpoint's throughput**.
"""
        )
    replace_section(
        "rates",
        f"""
## 1. Acknowledgement at fixed offered rates

Command: `BENCH_SECONDS={seconds:.0f} .venv/bin/python -m bench.rates` (part of `make bench`).
{machine_line()} Measured: {measured_at()}. Generator: wrk (C, one thread, its own process) on
127.0.0.1 with distinct Twilio-signed webhooks, {seconds:.0f} s per rate; each deployment is a
fresh server on the embedded PostgreSQL with the 7 seeded advisors. Raw figures:
`docs/data/rates.json`.

![Webhook latency against offered rate](img/latency-vs-rate.png)
{"".join(parts)}""",
    )


if __name__ == "__main__":
    raise SystemExit(main())
