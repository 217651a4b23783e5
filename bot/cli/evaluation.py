"""Owns `advisor-bot eval`: run the scenarios against a model, print the table, write the report.

Exit codes: 0 when the score is at least `--fail-under` (or no bound is given), 1 below it, 2
for a usage error (a bad scenario file, no model to talk to).
"""

from __future__ import annotations

from pathlib import Path

from bot.cli.console import fail, say
from bot.evals.report import html_page, report, score, table, write_report
from bot.evals.runner import RunOptions, ScenarioResult, run_scenarios
from bot.evals.scenarios import ScenarioError, load_scenarios
from bot.settings import Settings

OPENAI_BASE_URL = "https://api.openai.com/v1"


def evaluate(
    settings: Settings,
    *,
    scenarios_path: Path | None,
    model: str | None,
    base_url: str | None,
    only: list[str],
    report_path: Path | None,
    html_path: Path | None = None,
    fail_under: float | None,
    repeat: int,
    database_url: str | None,
) -> int:
    """Run the evaluation; return the exit code."""
    try:
        scenarios = load_scenarios(scenarios_path)
    except ScenarioError as error:
        return fail(str(error), 2)
    if only:
        scenarios = [s for s in scenarios if set(only) & set(s.tags) or s.id in only]
        if not scenarios:
            return fail(f"no scenario is tagged {', '.join(only)}", 2)
    upstream = base_url or settings.openai_base_url or OPENAI_BASE_URL
    api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    if upstream == OPENAI_BASE_URL and api_key is None:
        return fail("no model to evaluate: set OPENAI_API_KEY, or give --base-url of a local server", 2)
    chosen = model or settings.openai_model
    options = RunOptions(
        model=chosen,
        base_url=upstream,
        api_key=api_key,
        database_url=database_url,
        repeat=repeat,
        timeout=settings.openai_timeout_seconds,
    )
    say(f"evaluating {chosen} at {upstream}: {len(scenarios)} scenarios × {repeat}")

    def progress(result: ScenarioResult) -> None:
        state = (
            "passed"
            if result.passed
            else f"FAILED ({result.error or ', '.join(v.name for v in result.verdicts if not v.passed)})"
        )
        say(f"  {result.id}: {state} in {result.seconds:.1f} s")

    results = run_scenarios(scenarios, options, on_result=progress)
    say(table(results))
    achieved = score(results)
    say(f"score {achieved:.3f}: {sum(r.passed for r in results)} of {len(results)} scenarios passed")
    data = report(results, model=chosen)
    if report_path is not None:
        write_report(report_path, data)
        say(f"report: {report_path}")
    if html_path is not None:
        html_path.write_text(html_page(data), encoding="utf-8")
        say(f"report page: {html_path}")
    if fail_under is not None and achieved < fail_under:
        return fail(f"score {achieved:.3f} is below --fail-under {fail_under}", 1)
    return 0
