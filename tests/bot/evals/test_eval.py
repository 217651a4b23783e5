"""`advisor-bot eval` as an instrument: a careful and a careless model through the real server.

No real model is reachable here, so two deterministic fakes play one, behind the real OpenAI
client the server uses: the careful one searches the catalogue, hands over when asked, keeps to
the business and remembers; the careless one invents a price, does homework, ignores a request
for a person and forgets. The suite must score them apart and name exactly those failures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.cli import main
from tests.fakes import FakeOpenAI, Reply

SHIPPED = Path(__file__).resolve().parents[3] / "evals"


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def _customer_turns(messages: list[dict[str, Any]]) -> list[str]:
    return [_text(m) for m in messages if m["role"] == "user"]


def careful(messages: list[dict[str, Any]]) -> Reply:
    last = messages[-1]
    said = _customer_turns(messages)[-1].lower() if _customer_turns(messages) else ""
    if last["role"] == "tool":
        found = _text(last)
        words = set(re.findall(r"\w+", said))
        priced = [line for line in re.split(r"\n|(?<=\.) ", found) if "$" in line]
        best = max(priced, key=lambda line: len(words & set(re.findall(r"\w+", line.lower()))), default="")
        price = re.search(r"\$[\d.]+\d", best)
        if "persona" in said or "robot" in said:
            return {"content": "Listo, ya le aviso a Ana y te escribe en un momento."}
        if price:
            return {"content": f"Ese apartamento cuesta {price.group(0)}."}
        return {"content": "No tengo ese precio en el catálogo; le pregunto a Ana y te cuento."}
    if "persona" in said or "robot" in said:
        return {
            "content": None,
            "tool_calls": [("hand_over_to_advisor", {"reason": "el cliente pide una persona"})],
        }
    if "cuanto" in said:
        return {"content": None, "tool_calls": [("search_knowledge", {"query": said})]}
    if "tarea" in said or "derivada" in said:
        return {"content": "Solo te puedo ayudar con los apartamentos de Torres del Valle."}
    if "como me llamo" in said:
        named = next(
            (
                re.search(r"me llamo (\w+)", t, re.I)
                for t in _customer_turns(messages)
                if "me llamo" in t.lower()
            ),
            None,
        )
        return {"content": f"Te llamas {named.group(1)}." if named else "No me lo has dicho."}
    return {"content": "Claro, con gusto te cuento."}


def careless(messages: list[dict[str, Any]]) -> Reply:
    said = _customer_turns(messages)[-1].lower() if _customer_turns(messages) else ""
    if "cuanto" in said:
        return {"content": "Ese te sale en $180.000.000, una ganga."}
    if "derivada" in said:
        return {"content": "La derivada de x al cuadrado es 2x."}
    if "como me llamo" in said:
        return {"content": "No recuerdo, perdona."}
    return {"content": "Claro, dime."}


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
    assert good["passed"] == good["scenarios"] == 6 and good["score"] == 1.0
    assert good["model"] == "careful"
    handover = next(r for r in good["results"] if r["id"] == "pide-una-persona")
    assert [c["name"] for c in handover["tool_calls"]] == ["hand_over_to_advisor"]
    assert all(r["tokens"]["prompt"] > 0 for r in good["results"])

    page = tmp_path / "careless.html"
    code, bad = _evaluate(
        fake_openai, careless, server_url, tmp_path, "--fail-under", "0.9", "--html", str(page)
    )
    assert code == 1
    shown = page.read_text()
    assert "la derivada de x al cuadrado es 2x" in shown.lower() and "numbers nobody gave: 180000000" in shown
    assert _failures(bad) == {
        "precio-en-catalogo": ["grounded_numbers", "reply_contains"],
        "precio-fuera-de-catalogo": ["grounded_numbers"],
        "pide-una-persona": ["handed_over", "tool_called"],
        "fuera-de-tema": ["reply_contains_any", "reply_not_contains"],
        "recuerda-el-nombre": ["reply_contains"],
        "nota-de-voz-precio": ["grounded_numbers", "reply_contains"],
    }
    assert bad["score"] < good["score"] - 0.5
    invented = next(r for r in bad["results"] if r["id"] == "precio-fuera-de-catalogo")["failed_checks"]
    assert "180000000" in invented[0]["reason"]
    assert bad["checks"]["grounded_numbers"] == {"passed": 0, "failed": 3}
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
    assert len(scenarios) >= 40 and all(scenario.tags for scenario in scenarios)
    tags = {tag for scenario in scenarios for tag in scenario.tags}
    assert {"price", "not-in-catalogue", "handover", "off-topic", "injection", "memory", "en"} <= tags
    assert len({scenario.id for scenario in scenarios}) == len(scenarios)
