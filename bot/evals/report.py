"""Owns what an evaluation tells: the JSON report, the table at the end, the score.

The score is the share of checks passed over every scenario run (0–1); a scenario that could
not run counts as one failed check, so a broken model server never scores well.
"""

from __future__ import annotations

import json
from collections import Counter
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
