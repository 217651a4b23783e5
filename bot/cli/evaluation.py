"""Owns `advisor-bot eval`: run the scenarios against a model, print the table, write the report.

Exit codes: 0 when the score is at least `--fail-under` (or no bound is given), 1 below it, 2
for a usage error (a bad scenario file, no model to talk to).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.cli.console import fail, say
from bot.evals.chat_client import ChatClient
from bot.evals.report import html_page, report, score, table, write_report
from bot.evals.runner import RunOptions, ScenarioResult, run_scenarios
from bot.evals.scenarios import ScenarioError, load_scenarios
from bot.settings import Settings

OPENAI_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class EvalRequest:
    """What `advisor-bot eval` was asked to do (its options)."""

    scenarios_path: Path | None = None
    model: str | None = None
    base_url: str | None = None
    only: list[str] = field(default_factory=list)
    report_path: Path | None = None
    html_path: Path | None = None
    fail_under: float | None = None
    repeat: int = 1
    database_url: str | None = None
    memory_tokens: int = 2000
    judge_model: str | None = None
    judge_base_url: str | None = None
    judge_weight: float = 0.0
    simulate_customers: bool = False
    customer_model: str | None = None


def evaluate(settings: Settings, request: EvalRequest) -> int:
    """Run the evaluation; return the exit code."""
    try:
        scenarios = load_scenarios(request.scenarios_path)
    except ScenarioError as error:
        return fail(str(error), 2)
    if request.only:
        scenarios = [s for s in scenarios if set(request.only) & set(s.tags) or s.id in request.only]
        if not scenarios:
            return fail(f"no scenario is tagged {', '.join(request.only)}", 2)
    if request.judge_weight and request.judge_model is None:
        return fail("--judge-weight needs a judge: give --judge-model", 2)
    skipped = [s.id for s in scenarios if s.simulated and not request.simulate_customers]
    scenarios = [s for s in scenarios if s.id not in skipped]
    if not scenarios:
        return fail("every scenario chosen has a simulated customer: add --simulate-customers", 2)
    upstream = request.base_url or settings.openai_base_url or OPENAI_BASE_URL
    api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    if upstream == OPENAI_BASE_URL and api_key is None:
        return fail("no model to evaluate: set OPENAI_API_KEY, or give --base-url of a local server", 2)
    chosen = request.model or settings.openai_model

    def client(model: str, base_url: str) -> ChatClient:
        return ChatClient(model, base_url, api_key, settings.openai_timeout_seconds)

    options = RunOptions(
        model=chosen,
        base_url=upstream,
        api_key=api_key,
        database_url=request.database_url,
        repeat=request.repeat,
        timeout=settings.openai_timeout_seconds,
        memory_tokens=request.memory_tokens,
        judge=client(request.judge_model, request.judge_base_url or upstream)
        if request.judge_model
        else None,
        customer=client(request.customer_model or chosen, upstream) if request.simulate_customers else None,
    )
    say(f"evaluating {chosen} at {upstream}: {len(scenarios)} scenarios × {request.repeat}")
    if skipped:
        say(f"skipped (a simulated customer; add --simulate-customers): {', '.join(skipped)}")
    with _progress(len(scenarios) * request.repeat) as progress:
        results = run_scenarios(scenarios, options, on_result=progress)
    say(table(results))
    achieved = score(results, judge_weight=request.judge_weight)
    say(f"score {achieved:.3f}: {sum(r.passed for r in results)} of {len(results)} scenarios passed")
    data = report(results, model=chosen, judge_model=request.judge_model, judge_weight=request.judge_weight)
    if data["judge"] is not None and data["judge"]["score"] is not None:
        say(f"judge {request.judge_model}: {data['judge']['score']:.3f} (weight {request.judge_weight})")
    if request.report_path is not None:
        write_report(request.report_path, data)
        say(f"report: {request.report_path}")
    if request.html_path is not None:
        request.html_path.write_text(html_page(data), encoding="utf-8")
        say(f"report page: {request.html_path}")
    if request.fail_under is not None and achieved < request.fail_under:
        return fail(f"score {achieved:.3f} is below --fail-under {request.fail_under}", 1)
    return 0


def _outcome(result: ScenarioResult) -> str:
    if result.passed:
        return "passed"
    failed = result.error or ", ".join(result.failed_names)
    return f"FAILED ({failed})"


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[ScenarioResult], None]]:
    """A progress bar on a terminal; a plain line per scenario otherwise (a log, CI)."""
    if not sys.stdout.isatty():

        def line(result: ScenarioResult) -> None:
            say(f"  {result.id}: {_outcome(result)} in {result.seconds:.1f} s")

        yield line
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]eval"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    ) as bar:
        task = bar.add_task("", total=total)

        def advance(result: ScenarioResult) -> None:
            bar.console.print(f"  {result.id}: {_outcome(result)} in {result.seconds:.1f} s", markup=False)
            bar.update(task, advance=1, description=result.id)

        yield advance
