"""Owns what an evaluation tells: the JSON report, the table at the end, the score.

The checks' score is the share of checks passed over every scenario run (0–1); a scenario
that could not run counts as one failed check, so a broken model server never scores well.
The judge's grades are kept apart: they count in the overall score only with a judge weight.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from html import escape
from pathlib import Path
from typing import Any

from bot.evals.judge import judged_share
from bot.evals.runner import ScenarioResult


def checks_score(results: list[ScenarioResult]) -> float:
    """The share of checks passed (a scenario that errored counts as one failed check)."""
    total = sum(max(1, len(result.verdicts)) if result.error else len(result.verdicts) for result in results)
    passed = sum(0 if result.error else sum(v.passed for v in result.verdicts) for result in results)
    return passed / total if total else 0.0


def judge_score(results: list[ScenarioResult]) -> float | None:
    """The judge's grades as a share (0–1) over the graded runs; None when nothing was graded.

    A run the judge could not grade counts as 0, like a scenario that could not run.
    """
    judged = [result for result in results if result.grades or result.judge_error or result.error]
    if not any(result.grades or result.judge_error for result in results):
        return None
    return sum(judged_share(result.grades) for result in judged) / len(judged)


def score(results: list[ScenarioResult], *, judge_weight: float = 0.0) -> float:
    """The overall score: the checks', blended with the judge's only as far as `judge_weight` says."""
    judged = judge_score(results)
    if judged is None or judge_weight == 0:
        return checks_score(results)
    return (1 - judge_weight) * checks_score(results) + judge_weight * judged


def report(
    results: list[ScenarioResult],
    *,
    model: str,
    judge_model: str | None = None,
    judge_weight: float = 0.0,
) -> dict[str, Any]:
    """The JSON report: model, counts, scores, per check name, per judge criterion, per scenario run."""
    per_check: dict[str, Counter[str]] = {}
    per_criterion: dict[str, list[int]] = {}
    for result in results:
        for verdict in result.verdicts:
            per_check.setdefault(verdict.name, Counter())["passed" if verdict.passed else "failed"] += 1
        for grade in result.grades:
            per_criterion.setdefault(grade.criterion, []).append(grade.score)
    judged = judge_score(results)
    return {
        "model": model,
        "scenarios": len(results),
        "passed": sum(result.passed for result in results),
        "score": round(score(results, judge_weight=judge_weight), 4),
        "checks_score": round(checks_score(results), 4),
        "held_back": sum(len(result.held_back) for result in results),
        "checks": {
            name: {"passed": c["passed"], "failed": c["failed"]} for name, c in sorted(per_check.items())
        },
        "judge": None
        if judge_model is None
        else {
            "model": judge_model,
            "weight": judge_weight,
            "score": None if judged is None else round(judged, 4),
            "criteria": {name: round(sum(s) / len(s), 2) for name, s in sorted(per_criterion.items())},
            "ungraded": sum(1 for result in results if result.judge_error),
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
                "simulated": result.simulated,
                "held_back": result.held_back,
                "transcript": result.transcript,
                "tool_calls": result.tool_calls,
                "judge": _judged(result) if judge_model is not None else None,
                "tokens": {
                    "prompt": result.prompt_tokens,
                    "completion": result.completion_tokens,
                    "judge": asdict(result.judge_usage),
                    "customer": asdict(result.customer_usage),
                },
                "seconds": round(result.seconds, 2),
            }
            for result in results
        ],
    }


def _judged(result: ScenarioResult) -> dict[str, Any]:
    return {
        "scores": {
            grade.criterion: {"score": grade.score, "reason": grade.reason} for grade in result.grades
        },
        "share": round(judged_share(result.grades), 4) if result.grades else None,
        "error": result.judge_error,
    }


def write_report(path: Path, data: dict[str, Any]) -> None:
    """Write the JSON report."""
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def table(results: list[ScenarioResult]) -> str:
    """The summary table: scenario, passed, failed checks, turns, prompt/completion tokens."""
    graded = any(result.grades or result.judge_error for result in results)
    rows: list[tuple[str, ...]] = [
        ("scenario", "passed", "failed checks", "turns", "tokens (prompt/completion)")
    ]
    if graded:
        rows[0] += ("judge (1-5)",)
    for result in results:
        failed = result.error or ", ".join(result.failed_names) or "-"
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
        if graded:
            mean = sum(g.score for g in result.grades) / len(result.grades) if result.grades else None
            rows[-1] += (f"{mean:.1f}" if mean is not None else "ungraded",)
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
    judge = data.get("judge")
    judged = ""
    if judge is not None:
        criteria = "".join(
            f"<tr><td>{escape(name)}</td><td>{mean}</td></tr>" for name, mean in judge["criteria"].items()
        )
        shown = "—" if judge["score"] is None else f"{judge['score']:.3f}"
        judged = (
            f"<h2>Judge {escape(str(judge['model']))}: {shown} (weight {judge['weight']})</h2>"
            f"<table><tr><th>criterion</th><th>mean (1–5)</th></tr>{criteria}</table>"
        )
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>advisor-bot eval: {escape(str(data['model']))}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(str(data['model']))}: score {data['score']:.3f}</h1>"
        f"<p>{data['passed']} of {data['scenarios']} scenario runs passed every check "
        f"(checks score {data['checks_score']:.3f}).</p>"
        f"<table><tr><th>check</th><th>passed</th><th>failed</th></tr>{checks}</table>{judged}{runs}"
        "</body></html>\n"
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
    held = [
        f"<li>figures nobody gave, held back by the server (turn {item['turn'] + 1}): "
        f"{escape(', '.join(item['figures']))}</li>"
        for item in result.get("held_back") or []
    ]
    tools = ", ".join(escape(t["name"]) for t in result["tool_calls"]) or "—"
    title = escape(result["id"]) + (f" #{result['run']}" if result["run"] > 1 else "")
    verdict = "passed" if result["passed"] else "failed"
    meta = (
        f"{escape(', '.join(result['tags']))}{' · simulated customer' if result.get('simulated') else ''}"
        f" · tools: {tools} · tokens "
        f"{result['tokens']['prompt']}/{result['tokens']['completion']} · {result['seconds']} s"
    )
    listed = f"<ul>{''.join(failed + held)}</ul>" if failed or held else ""
    judge = result.get("judge") or {}
    grades = "".join(
        f"<li>{escape(name)}: {entry['score']}/5 — {escape(entry['reason'])}</li>"
        for name, entry in (judge.get("scores") or {}).items()
    )
    if judge.get("error"):
        grades += f"<li>not graded: {escape(judge['error'])}</li>"
    listed += f"<p class='meta'>Judge:</p><ul>{grades}</ul>" if grades else ""
    return (
        f"<section class='{'ok' if result['passed'] else 'bad'}'><h2>{title} — {verdict}</h2>"
        f"<p class='meta'>{meta}</p>{listed}{''.join(lines)}</section>"
    )
