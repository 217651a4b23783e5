"""Owns what an evaluation tells: the JSON report, the table at the end, the score.

The score is the share of checks passed over every scenario run (0–1); a scenario that could
not run counts as one failed check, so a broken model server never scores well.
"""

from __future__ import annotations

import json
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

from bot.evals.runner import ScenarioResult


def score(results: list[ScenarioResult]) -> float:
    """The share of checks passed (a scenario that errored counts as one failed check)."""
    total = sum(max(1, len(result.verdicts)) if result.error else len(result.verdicts) for result in results)
    passed = sum(0 if result.error else sum(v.passed for v in result.verdicts) for result in results)
    return passed / total if total else 0.0


def report(results: list[ScenarioResult], *, model: str) -> dict[str, Any]:
    """The JSON report: model, counts, score, per check name and per scenario run."""
    per_check: dict[str, Counter[str]] = {}
    for result in results:
        for verdict in result.verdicts:
            per_check.setdefault(verdict.name, Counter())["passed" if verdict.passed else "failed"] += 1
    return {
        "model": model,
        "scenarios": len(results),
        "passed": sum(result.passed for result in results),
        "score": round(score(results), 4),
        "checks": {
            name: {"passed": c["passed"], "failed": c["failed"]} for name, c in sorted(per_check.items())
        },
        "results": [
            {
                "id": result.id,
                "run": result.run,
                "tags": result.tags,
                "passed": result.passed,
                "error": result.error,
                "failed_checks": [
                    {"check": verdict.name, "reason": verdict.reason}
                    for verdict in result.verdicts
                    if not verdict.passed
                ],
                "transcript": result.transcript,
                "tool_calls": result.tool_calls,
                "tokens": {"prompt": result.prompt_tokens, "completion": result.completion_tokens},
                "seconds": round(result.seconds, 2),
            }
            for result in results
        ],
    }


def write_report(path: Path, data: dict[str, Any]) -> None:
    """Write the JSON report."""
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def table(results: list[ScenarioResult]) -> str:
    """The summary table: scenario, passed, failed checks, turns, prompt/completion tokens."""
    rows = [("scenario", "passed", "failed checks", "turns", "tokens (prompt/completion)")]
    for result in results:
        failed = result.error or ", ".join(v.name for v in result.verdicts if not v.passed) or "-"
        turns = sum(1 for line in result.transcript if "customer" in line)
        label = result.id if result.run == 1 else f"{result.id} #{result.run}"
        rows.append(
            (
                label,
                "yes" if result.passed else "no",
                failed[:60],
                str(turns),
                f"{result.prompt_tokens}/{result.completion_tokens}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccd; padding: .2rem .6rem; text-align: left; }
section { border-left: 4px solid #2a7; padding: .2rem 1rem; margin: 1rem 0; }
section.bad { border-color: #c33; }
.meta { color: #667; }
.customer { background: #f3f5f8; padding: .3rem .6rem; border-radius: 6px; }
.advisor { padding: .3rem .6rem; }
"""


def html_page(data: dict[str, Any]) -> str:
    """The report as a page a person reads: the score, the checks, and every transcript."""
    checks = "".join(
        f"<tr><td>{escape(name)}</td><td>{c['passed']}</td><td>{c['failed']}</td></tr>"
        for name, c in data["checks"].items()
    )
    runs = "".join(_run_section(result) for result in data["results"])
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>advisor-bot eval: {escape(str(data['model']))}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(str(data['model']))}: score {data['score']:.3f}</h1>"
        f"<p>{data['passed']} of {data['scenarios']} scenario runs passed every check.</p>"
        f"<table><tr><th>check</th><th>passed</th><th>failed</th></tr>{checks}</table>{runs}</body></html>\n"
    )


def _run_section(result: dict[str, Any]) -> str:
    lines = []
    for line in result["transcript"]:
        who = "customer" if "customer" in line else "advisor"
        label = "Customer (voice note)" if line.get("as") else who.capitalize()
        lines.append(f"<p class='{who}'><b>{label}:</b> {escape(str(line.get(who, '')))}</p>")
    failed = [f"<li><b>{escape(f['check'])}</b>: {escape(f['reason'])}</li>" for f in result["failed_checks"]]
    if result["error"]:
        failed.append(f"<li><b>error</b>: {escape(result['error'])}</li>")
    tools = ", ".join(escape(t["name"]) for t in result["tool_calls"]) or "—"
    title = escape(result["id"]) + (f" #{result['run']}" if result["run"] > 1 else "")
    verdict = "passed" if result["passed"] else "failed"
    meta = (
        f"{escape(', '.join(result['tags']))} · tools: {tools} · tokens "
        f"{result['tokens']['prompt']}/{result['tokens']['completion']} · {result['seconds']} s"
    )
    listed = f"<ul>{''.join(failed)}</ul>" if failed else ""
    return (
        f"<section class='{'ok' if result['passed'] else 'bad'}'><h2>{title} — {verdict}</h2>"
        f"<p class='meta'>{meta}</p>{listed}{''.join(lines)}</section>"
    )
