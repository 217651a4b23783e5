"""`advisor-bot eval` itself, measured: run time and tokens per scenario, careful against careless.

The whole shipped set (fixed turns and simulated customers, with a judge) runs twice through the
real server, against the two deterministic fake models of the evaluation's tests: the careful
one (scripted for the catalogue's questions, hand-overs, scope and memory) and the careless one
(invents prices, does homework, ignores a request for a person, forgets). The figures are the
instrument's own cost: how long a scenario takes on the real path when the model answers at
once, and how many tokens the agent's prompts take, which is what a real model would bill.
No real model is reachable here; the scores are the fakes', not a model's.

Run: `python -m bench evaluation` (docs/benchmarks.md section 7). Uses
ADVISOR_BOT_TEST_DATABASE_URL's server when set (a temporary database), else the embedded one.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.docs import machine_line, measured_at, replace_section
from bot.cli import main as cli
from bot.evals.scenarios import SHIPPED
from tests.bot.evals.models import careless, judge_and_customer
from tests.fakes import FakeOpenAI, Reply, start_fake_openai

COMMAND = "python -m bench evaluation"
CATALOGUE = SHIPPED / "catalogo.yaml"  # the subset the careful fake is scripted for; what CI runs


HEAD = (
    "| model | runs | passed | checks score | judge | held back | whole run "
    "| per scenario (median / max) | per turn "
    "| prompt tokens (median / max) | completion tokens (median / max) |\n" + "|---" * 11 + "|"
)


def _careless_with_helpers(messages: list[dict[str, Any]]) -> Reply:
    """The careless agent, with the same fake judge and simulated customer as the careful run."""
    reply = judge_and_customer(messages)
    system = str(messages[0].get("content", "")) if messages[0]["role"] == "system" else ""
    helper = system.startswith(("Eres un evaluador", "Haces el papel de un cliente"))
    return reply if helper else careless(messages)


def _run(
    fake: FakeOpenAI,
    name: str,
    behaviour: Callable[[list[dict[str, Any]]], Reply],
    scenarios: Path | None = None,
) -> dict[str, Any]:
    fake.behaviour = behaviour  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        args = ["eval", "--base-url", fake.url, "--model", name, "--report", str(report)]
        args += ["--scenarios", str(scenarios)] if scenarios else []
        args += ["--simulate-customers", "--judge-model", "judge"]
        server = os.environ.get("ADVISOR_BOT_TEST_DATABASE_URL")
        if server:
            args += ["--database-url", server]
        started = time.monotonic()
        code = cli(args)
        data: dict[str, Any] = json.loads(report.read_text())
    data["wall_seconds"] = time.monotonic() - started
    data["exit"] = code
    return data


def _turns(result: dict[str, Any]) -> int:
    return sum(1 for line in result["transcript"] if "customer" in line)


def _figures(data: dict[str, Any]) -> dict[str, Any]:
    results = data["results"]
    seconds = [r["seconds"] for r in results]
    prompt = [r["tokens"]["prompt"] for r in results]
    completion = [r["tokens"]["completion"] for r in results]
    turns = [_turns(r) for r in results]
    slowest = max(results, key=lambda r: r["seconds"])
    return {
        "scenarios": len(results),
        "passed": data["passed"],
        "score": data["score"],
        "judge": data["judge"]["score"] if data["judge"] else None,
        "held_back": data["held_back"],
        "wall": data["wall_seconds"],
        "median_s": statistics.median(seconds),
        "max_s": max(seconds),
        "slowest": f"{slowest['id']} ({_turns(slowest)} turns)",
        "s_per_turn": sum(seconds) / max(1, sum(turns)),
        "median_prompt": statistics.median(prompt),
        "max_prompt": max(prompt),
        "median_completion": statistics.median(completion),
        "max_completion": max(completion),
        "failed": {name: c["failed"] for name, c in data["checks"].items() if c["failed"]},
    }


def main() -> int:
    fake = start_fake_openai(keep_alive=True)
    try:
        runs = {
            "careful": _figures(_run(fake, "careful", judge_and_customer)),
            "careless": _figures(_run(fake, "careless", _careless_with_helpers)),
        }
        subset = {
            name: _run(fake, name, behaviour, CATALOGUE)["score"]
            for name, behaviour in (("careful", judge_and_customer), ("careless", _careless_with_helpers))
        }
    finally:
        assert fake.server is not None
        fake.server.close()
    print(json.dumps({"runs": runs, "catalogue": subset}, indent=2), flush=True)
    rows = "\n".join(
        f"| {name} | {f['scenarios']} | {f['passed']} | {f['score']:.3f} | {f['judge']:.3f} | "
        f"{f['held_back']} | "
        f"{f['wall']:.1f} s | {f['median_s']:.2f} s / {f['max_s']:.2f} s | {f['s_per_turn']:.3f} s | "
        f"{f['median_prompt']:,.0f} / {f['max_prompt']:,} | "
        f"{f['median_completion']:,.0f} / {f['max_completion']:,} |"
        for name, f in runs.items()
    )
    careless_failed = ", ".join(f"{name} {n}" for name, n in sorted(runs["careless"]["failed"].items()))
    careful_failed = ", ".join(f"{name} {n}" for name, n in sorted(runs["careful"]["failed"].items()))
    replace_section(
        "evaluation",
        f"""## 7. The evaluation suite: run time and tokens per scenario

`{COMMAND}` ({measured_at()}). {machine_line()} The whole shipped set (`evals/`: fixed turns and
simulated customers, with `--simulate-customers --judge-model judge`) through the real server,
its own temporary database, against the deterministic fake models of
`tests/bot/evals/models.py`: they answer at once, so the times are the instrument's own (the
real path: signed webhook, queue, worker, agent, memory, Twilio double) and a real model adds
its latency per call. Tokens are the agent's prompts as the fake server counts them (about 4
characters a token), which is what a real model would bill; the judge's and the simulated
customer's are counted apart. "Held back" counts answers the server's figure check kept from the
customer (figures nobody gave, asked again once, given again): each became the holding text and a
`missing_knowledge` hand-over, so the careless fake's invented prices never reach a customer and
it scores closer to the careful one than its answers deserve: read the score with it.

{HEAD}
{rows}

On `evals/catalogo.yaml`, the subset the careful fake is scripted for (what CI runs), the
checks score is {subset["careful"]:.3f} careful against {subset["careless"]:.3f} careless. On
the whole set the careful fake fails checks outside its script ({careful_failed}); the careless
one fails {careless_failed}.

The slowest scenario is {runs["careful"]["slowest"]}: the memory probe, whose turns fold the
memory into a summary; its prompts take {runs["careful"]["max_prompt"]:,} tokens in all with a
2,000-token memory, where the median scenario takes {runs["careful"]["median_prompt"]:,.0f}.
""",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
