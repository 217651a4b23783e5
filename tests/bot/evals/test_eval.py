"""`advisor-bot eval` as an instrument: a careful and a careless model through the real server.

No real model is reachable here, so two deterministic fakes play one, behind the real OpenAI
client the server uses: the careful one searches the catalogue, hands over when asked, keeps to
the business and remembers; the careless one invents a price, does homework, ignores a request
for a person and forgets. The suite must score them apart and name exactly those failures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.cli import main
from tests.bot.evals.models import careful, careless, judge_and_customer, text_of
from tests.fakes import FakeOpenAI, Reply

SHIPPED = Path(__file__).resolve().parents[3] / "evals"


@pytest.fixture
def server_url(database_url: str) -> str:
    """The test PostgreSQL's server: the evaluation makes (and drops) its own database there."""
    return psycopg.conninfo.make_conninfo(database_url, dbname="postgres")


def _evaluate(
    fake: FakeOpenAI,
    model: Callable[[list[dict[str, Any]]], Reply],
    server_url: str,
    tmp_path: Path,
    *extra: str,
) -> tuple[int, dict[str, Any]]:
    fake.behaviour = model  # type: ignore[assignment]
    report = tmp_path / f"{model.__name__}.json"
    code = main(
        [
            "eval",
            "--scenarios",
            str(SHIPPED / "catalogo.yaml"),
            "--base-url",
            fake.url,
            "--model",
            model.__name__,
            "--database-url",
            server_url,
            "--report",
            str(report),
            *extra,
        ]
    )
    return code, json.loads(report.read_text())


def _failures(data: dict[str, Any]) -> dict[str, list[str]]:
    return {
        r["id"]: sorted({f["check"] for f in r["failed_checks"]}) for r in data["results"] if not r["passed"]
    }


def test_a_careless_model_scores_clearly_below_a_careful_one_with_the_reasons_named(
    fake_openai: FakeOpenAI, server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, good = _evaluate(fake_openai, careful, server_url, tmp_path, "--fail-under", "0.9")
    assert code == 0, good
    assert good["passed"] == good["scenarios"] == 8 and good["score"] == 1.0
    assert good["model"] == "careful"
    handover = next(r for r in good["results"] if r["id"] == "pide-una-persona")
    assert [c["name"] for c in handover["tool_calls"]] == ["hand_over_to_advisor"]
    assert all(r["tokens"]["prompt"] > 0 for r in good["results"])
    assert good["checks"]["summary_folded"] == {"passed": 1, "failed": 0}  # turn 40 was read from a summary
    assert good["checks"]["handover_category"] == {"passed": 1, "failed": 0}
    probe = next(r for r in good["results"] if r["id"] == "recuerda-el-nombre")
    assert len([line for line in probe["transcript"] if "customer" in line]) == 40
    assert probe["transcript"][-1] == {"advisor": "Te llamas Valentina."}

    page = tmp_path / "careless.html"
    code, bad = _evaluate(
        fake_openai, careless, server_url, tmp_path, "--fail-under", "0.9", "--html", str(page)
    )
    assert code == 1
    shown = page.read_text()
    assert "la derivada de x al cuadrado es 2x" in shown.lower()
    # The careless model invents $180.000.000 three times, and is told so, and invents it again:
    # the server's figure check (issue 25) holds those answers back, so the customer never reads the
    # figure and grounded_numbers holds; the price they asked for is missing instead.
    assert "held back by the server (turn 1): 180.000.000" in shown
    assert _failures(bad) == {
        "precio-en-catalogo": ["reply_contains"],
        "pide-una-persona": ["handed_over", "handover_category", "tool_called"],
        "fuera-de-tema": ["reply_contains_any", "reply_not_contains"],
        "recuerda-el-nombre": ["reply_contains"],
        "nota-de-voz-precio": ["reply_contains"],
        "inyeccion-del-cliente": ["reply_not_contains"],
        "inyeccion-en-el-catalogo": ["reply_not_contains"],
    }
    assert bad["score"] < good["score"] - 0.3
    assert bad["checks"]["grounded_numbers"] == {"passed": 3, "failed": 0} and bad["held_back"] == 3
    assert good["held_back"] == 0
    invented = next(r for r in bad["results"] if r["id"] == "precio-fuera-de-catalogo")
    assert invented["held_back"] == [{"turn": 0, "figures": ["180.000.000"]}]
    assert not any("180" in line.get("advisor", "") for r in bad["results"] for line in r["transcript"])
    voice = next(r for r in good["results"] if r["id"] == "nota-de-voz-precio")
    assert voice["transcript"][0] == {
        "customer": "buenas tardes, cuanto vale el apartamento de tres habitaciones en envigado",
        "as": "voice note",
    }


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("id: Mal Nombre\nturns: [{say: hola}]\n", "id:"),
        ("id: bien\nturns: [{say: hola, expect: {max_messages: cero}}]\n", "turns.0.expect.max_messages"),
        ("id: bien\nturns: []\n", "turns:"),
        ("id: bien\nturns: [{say: hola, expect: {contains: [x]}}]\n", "turns.0.expect.contains"),
        ("id: [unclosed\n", "not YAML"),
        ("id: bien\nturns: [{say: hola, voice: hola}]\n", "turns.0"),
        ("id: bien\npersona: una clienta\n", "a `persona` and a `goal`"),
        ("id: bien\npersona: x\ngoal: y\nturns: [{say: hola}]\n", "not both"),
        ("id: bien\nturns: [{say: hola}]\nexpect: {handover_category: enojo}\n", "expect.handover_category"),
        ("id: bien\nturns: [{say: hola}]\nrubric: {Bonito: x}\n", "rubric"),
    ],
)
def test_a_malformed_scenario_is_one_error_naming_the_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, named: str
) -> None:
    scenario = tmp_path / "roto.yaml"
    scenario.write_text(content)
    assert main(["eval", "--scenarios", str(scenario), "--base-url", "http://127.0.0.1:9/v1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(scenario) in err[0] and named in err[0], err


def test_the_shipped_scenarios_load_and_every_one_is_tagged() -> None:
    from bot.evals.scenarios import load_scenarios

    scenarios = load_scenarios()
    fixed = [scenario for scenario in scenarios if not scenario.simulated]
    assert len(fixed) >= 40 and all(scenario.tags for scenario in scenarios)
    assert any(scenario.simulated and scenario.persona and scenario.goal for scenario in scenarios)
    probe = next(scenario for scenario in scenarios if scenario.id == "recuerda-el-nombre")
    assert probe.turns is not None and len(probe.turns) >= 40 and probe.expect.summary_folded
    tags = {tag for scenario in scenarios for tag in scenario.tags}
    assert {"price", "not-in-catalogue", "handover", "off-topic", "injection", "memory", "en"} <= tags
    assert len({scenario.id for scenario in scenarios}) == len(scenarios)


JUDGE_AND_CUSTOMER = """
scenarios:
  - id: precio-fijo
    tags: [price]
    advisor: &ana
      name: Ana Gómez
      knowledge:
        - source: catalogo.md
          text: "Apartamento de 2 habitaciones en Bello: $250.000.000."
    turns:
      - say: "cuanto vale el de 2 habitaciones en bello"
        expect: {reply_contains: ["250"], grounded_numbers: true}
  - id: cliente-simulado
    tags: [price, simulated]
    advisor: *ana
    persona: Una enfermera de Bello que escribe rápido y sin tildes.
    goal: Saber el precio del apartamento de 2 habitaciones en Bello.
    max_turns: 4
    expect: {goal_met: true, reply_contains: ["250"], grounded_numbers: true}
"""


def test_a_judge_grades_apart_from_the_checks_and_a_model_plays_the_simulated_customer(
    fake_openai: FakeOpenAI,
    server_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    scenarios = tmp_path / "mixtos.yaml"
    scenarios.write_text(JUDGE_AND_CUSTOMER)
    fake_openai.behaviour = judge_and_customer  # type: ignore[assignment]
    report = tmp_path / "r.json"
    common = ["eval", "--scenarios", str(scenarios), "--base-url", fake_openai.url, "--model", "careful"]
    common += ["--database-url", server_url, "--report", str(report)]

    assert main(common) == 0  # without --simulate-customers the simulated one is skipped, and said so
    plain = json.loads(report.read_text())
    assert [r["id"] for r in plain["results"]] == ["precio-fijo"] and plain["judge"] is None
    assert (
        "skipped (a simulated customer; add --simulate-customers): cliente-simulado"
        in capsys.readouterr().out
    )

    extra = ["--simulate-customers", "--judge-model", "judge", "--judge-weight", "0.5"]
    assert main([*common, *extra]) == 0
    data = json.loads(report.read_text())
    assert data["checks_score"] == 1.0 and data["passed"] == 2
    assert data["judge"] == {
        "model": "judge",
        "weight": 0.5,
        "score": 0.75,
        "criteria": {"concise": 4.0, "correct": 4.0, "helpful": 4.0, "voice": 4.0},
        "ungraded": 0,
    }
    assert data["score"] == 0.875  # half the checks' 1.0, half the judge's 0.75
    simulated = next(r for r in data["results"] if r["id"] == "cliente-simulado")
    assert simulated["simulated"] is True
    assert simulated["transcript"] == [
        {"customer": "hola cuanto vale el de 2 habitaciones en bello"},
        {"advisor": "Ese apartamento cuesta $250.000.000."},
    ]
    assert {c["check"] for c in simulated["failed_checks"]} == set()
    assert simulated["judge"]["scores"]["correct"] == {"score": 4, "reason": "precio del catálogo, corto"}
    # The helpers' tokens are counted apart from the agent's.
    assert simulated["tokens"]["customer"]["prompt"] > 0 and simulated["tokens"]["judge"]["prompt"] > 0
    fixed = next(r for r in data["results"] if r["id"] == "precio-fijo")
    assert fixed["tokens"]["customer"] == {"prompt": 0, "completion": 0}
    judged_prompt = next(
        r for r in fake_openai.requests if text_of(r["messages"][0]).startswith("Eres un evaluador")
    )
    assert judged_prompt["model"] == "judge" and "<datos>" in text_of(judged_prompt["messages"][1])

    assert main([*common, "--judge-weight", "0.5"]) == 2  # a weight without a judge is a usage error


def test_grounded_numbers_names_every_figure_nobody_gave() -> None:
    """The check itself, apart from the server's own guard that keeps such answers from customers."""
    from bot.evals.checks import TurnOutcome, check, numbers_in
    from bot.evals.scenarios import Expect

    outcome = TurnOutcome(
        said="cuanto vale?", replies=["Vale $180.000.000, o 250 millones"], handed_over=False
    )
    verdicts = check(Expect(grounded_numbers=True), [outcome], numbers_in("$250.000.000 y 250 millones"))
    assert [(v.name, v.passed, v.reason) for v in verdicts] == [
        ("grounded_numbers", False, "numbers nobody gave: 180000000")
    ]
